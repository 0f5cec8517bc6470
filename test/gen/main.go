// Command gen writes a deterministic CloudTrail log tree, as a trail
// delivers it (AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/*.json.gz), for
// benchmarks and samples. Records mix services and, against
// rules/allowlist.example.yaml, every verdict.
//
//	go run ./test/gen -out DIR [-size 1GB | -records N] [-files N] [-seed N]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
)

const (
	account = "111122223333"
	region  = "us-east-1"
)

func main() {
	out := flag.String("out", "", "output `dir`")
	size := flag.String("size", "", "approximate uncompressed `size` in all (such as 1GB, 200MB); overrides -records")
	records := flag.Int("records", 1000, "records in all")
	files := flag.Int("files", 8, "number of log files")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	if *out == "" || *files < 1 {
		fmt.Fprintln(os.Stderr, "usage: gen -out DIR [-size 1GB | -records N] [-files N] [-seed N]")
		os.Exit(2)
	}
	perFile := (*records + *files - 1) / *files
	var limit int64
	if *size != "" {
		n, err := parseSize(*size)
		if err != nil {
			fmt.Fprintf(os.Stderr, "gen: -size: %v\n", err)
			os.Exit(2)
		}
		limit = n / int64(*files)
	}
	var wg sync.WaitGroup
	errs := make([]error, *files)
	sem := make(chan struct{}, 2)
	for i := range *files {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = writeFile(*out, i, *seed, perFile, limit)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			fmt.Fprintf(os.Stderr, "gen: %v\n", err)
			os.Exit(1)
		}
	}
}

func parseSize(s string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.m
			break
		}
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q: want a size such as 1GB or 200MB", s)
	}
	return int64(n * float64(mult)), nil
}

// writeFile writes log file i: perFile records, or records until limit
// uncompressed bytes when limit > 0.
func writeFile(dir string, i int, seed uint64, perFile int, limit int64) error {
	rng := rand.New(rand.NewPCG(seed, uint64(i)))
	t := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * 5 * time.Minute)
	path := filepath.Join(dir, "AWSLogs", account, "CloudTrail", region, t.Format("2006/01/02"),
		fmt.Sprintf("%s_CloudTrail_%s_%s_%08x.json.gz", account, region, t.Format("20060102T1504Z"), rng.Uint32()))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	zw := gzip.NewWriter(f)
	var written int64
	zw.Write([]byte(`{"Records":[`))
	var live liveSessions
	for n := 0; ; n++ {
		if limit > 0 && written >= limit || limit == 0 && n >= perFile {
			break
		}
		b, err := json.Marshal(record(rng, &live, t.Add(time.Duration(n)*time.Millisecond), i, n))
		if err != nil {
			return err
		}
		if n > 0 {
			zw.Write([]byte{','})
		}
		m, err := zw.Write(b)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		written += int64(m)
	}
	zw.Write([]byte("]}"))
	if err := zw.Close(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

type obj = map[string]any

var (
	etlRoles   = []string{"etl-loader", "etl-compactor", "etl-export"}
	strangers  = []string{"arn:aws:sts::444455556666:assumed-role/partner-writer/s", "arn:aws:iam::111122223333:user/contractors/mallory", "arn:aws:sts::999988887777:assumed-role/OrganizationAccountAccessRole/x"}
	buckets    = []string{"analytics--use1-az4--x-s3", "logs-app--use1-az4--x-s3", "scratch--use1-az5--x-s3"}
	otherCalls = []struct{ source, name string }{
		{"s3.amazonaws.com", "GetObject"}, {"s3.amazonaws.com", "PutObject"}, {"sts.amazonaws.com", "AssumeRole"},
		{"kms.amazonaws.com", "Decrypt"}, {"ec2.amazonaws.com", "DescribeInstances"}, {"dynamodb.amazonaws.com", "GetItem"},
	}
	userAgents = []string{
		"aws-sdk-go-v2/1.36.3 ua/2.1 os/linux lang/go#1.24 md/GOOS#linux md/GOARCH#arm64 api/s3#1.79.2",
		"aws-cli/2.17.9 md/awscrt#0.20.11 ua/2.0 os/linux#5.10.218-208.862.amzn2.x86_64 md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/command#s3api.put-object",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36",
	}
)

func pick[T any](rng *rand.Rand, s []T) T { return s[rng.IntN(len(s))] }

// record makes one record: ~40% other services, ~55% allowed S3 Express
// traffic, ~5% unauthorized (a third of it failed calls), ~0.1% invalid.
// liveSessions are the sessions the ETL roles created last, in a file: each
// ETL CreateSession returns a new key, and their zonal calls use a recent
// one from the host that created it, as the SDK does.
type liveSessions struct {
	keys, ips, names [32]string
	n                int
}

func record(rng *rand.Rand, live *liveSessions, t time.Time, file, n int) obj {
	id := fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", file, n>>16&0xffff, n&0xfff, rng.IntN(0x1000), rng.Uint64()&0xffffffffffff)
	r := obj{
		"eventVersion": "1.09", "eventTime": t.Format(time.RFC3339), "awsRegion": region,
		"eventID": id, "requestID": fmt.Sprintf("%016X", rng.Uint64()), "eventType": "AwsApiCall",
		"recipientAccountId": account, "userAgent": pick(rng, userAgents),
	}
	roll := rng.IntN(1000)
	if roll < 400 {
		c := pick(rng, otherCalls)
		r["eventSource"], r["eventName"] = c.source, c.name
		r["userIdentity"] = session(pick(rng, etlRoles), "job")
		r["sourceIPAddress"] = fmt.Sprintf("10.%d.%d.%d", rng.IntN(256), rng.IntN(256), 1+rng.IntN(254))
		r["requestParameters"] = obj{"bucketName": "ordinary-bucket", "key": "a/b/c.txt"}
		r["managementEvent"], r["readOnly"], r["eventCategory"] = c.source != "s3.amazonaws.com", true, "Data"
		return r
	}
	bucket := pick(rng, buckets[:1])
	op := pick(rng, []string{"GetObject", "GetObject", "GetObject", "PutObject", "HeadObject", "CreateSession"})
	key := fmt.Sprintf("reports/2026/11/%02d/part-%05d.parquet", 1+rng.IntN(28), rng.IntN(100000))
	r["eventSource"], r["eventCategory"], r["managementEvent"] = "s3express.amazonaws.com", "Data", false
	r["sourceIPAddress"] = fmt.Sprintf("10.%d.%d.%d", rng.IntN(256), rng.IntN(256), 1+rng.IntN(254))
	r["userIdentity"] = session(pick(rng, etlRoles), fmt.Sprintf("job-%d", rng.IntN(1000)))
	mode := "" // x-amz-create-session-mode
	switch {
	case roll < 900: // the ETL roles on the analytics bucket, from the VPC
		if op == "CreateSession" {
			role, name := pick(rng, etlRoles), fmt.Sprintf("job-%d", rng.IntN(1000))
			key := fmt.Sprintf("ASIAZ%03d%011d", file, n)
			at := live.n % len(live.keys)
			live.keys[at], live.ips[at], live.names[at] = key, r["sourceIPAddress"].(string), role+"/"+name
			live.n++
			r["userIdentity"] = session(role, name)
			r["userIdentity"].(obj)["accessKeyId"] = "ASIAIAM" + key[5:]
			r["userIdentity"].(obj)["sessionContext"] = obj{"sessionIssuer": obj{"type": "Role", "arn": "arn:aws:iam::" + account + ":role/pipelines/" + role}}
			r["responseElements"] = obj{"credentials": obj{"accessKeyId": key, "expiration": t.Add(5 * time.Minute).Format(time.RFC3339)}}
			mode = "ReadWrite"
		} else if live.n > 0 {
			k := rng.IntN(min(live.n, len(live.keys)))
			role, name, _ := strings.Cut(live.names[k], "/")
			r["userIdentity"] = session(role, name)
			r["userIdentity"].(obj)["accessKeyId"], r["sourceIPAddress"] = live.keys[k], live.ips[k]
		}
	case roll < 920: // lifecycle expiring logs
		bucket, op = buckets[1], "DeleteObject"
		r["userIdentity"] = obj{"type": "AWSService", "invokedBy": "lifecycle.s3.amazonaws.com"}
		r["sourceIPAddress"], r["userAgent"] = "lifecycle.s3.amazonaws.com", "lifecycle.s3.amazonaws.com"
		r["sharedEventID"] = id
	case roll < 949: // reads through the analytics VPC endpoint, over IPv6
		r["sourceIPAddress"] = fmt.Sprintf("2600:1f18:abcd:%x::%x", rng.IntN(0xffff), 1+rng.IntN(0xfff))
		r["userIdentity"] = session("dashboards", "d")
		r["vpcEndpointId"], r["vpcEndpointAccountId"] = "vpce-0a1b2c3d4e5f60718", account
	case roll < 999: // strangers, a third of them denied
		bucket = pick(rng, buckets)
		op = pick(rng, []string{"GetObject", "PutObject", "DeleteObject", "CreateSession"})
		arn := pick(rng, strangers)
		r["userIdentity"] = obj{"type": "AssumedRole", "arn": arn, "accountId": strings.Split(arn, ":")[4], "principalId": "AROAX:s", "accessKeyId": "ASIAEXAMPLE"}
		r["sourceIPAddress"] = fmt.Sprintf("203.0.113.%d", 1+rng.IntN(254))
		if rng.IntN(3) == 0 {
			r["errorCode"], r["errorMessage"] = "AccessDenied", "Access Denied"
		}
	default: // unreadable for a decision: no userIdentity
		delete(r, "userIdentity")
	}
	r["eventName"] = op
	r["readOnly"] = op != "PutObject" && op != "DeleteObject"
	r["requestParameters"] = obj{"bucketName": bucket, "Host": bucket + ".s3express-use1-az4.us-east-1.amazonaws.com", "key": key}
	r["additionalEventData"] = obj{"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256", "bytesTransferredIn": 0,
		"AuthenticationMethod": "AuthHeader", "bytesTransferredOut": rng.IntN(1 << 20), "availabilityZone": "use1-az4", "sessionModeApplied": "ReadWrite"}
	r["resources"] = []obj{
		{"type": "AWS::S3Express::Object", "ARNPrefix": "arn:aws:s3express:us-east-1:" + account + ":bucket/" + bucket + "/" + key},
		{"accountId": account, "type": "AWS::S3Express::DirectoryBucket", "ARN": "arn:aws:s3express:us-east-1:" + account + ":bucket/" + bucket},
	}
	if mode != "" {
		r["requestParameters"].(obj)["x-amz-create-session-mode"] = mode
	}
	r["tlsDetails"] = obj{"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": bucket + ".s3express-use1-az4.us-east-1.amazonaws.com"}
	return r
}

// session is the identity of a zonal call: no sessionIssuer, no role path.
func session(role, name string) obj {
	return obj{"type": "AssumedRole", "principalId": "AROAEXAMPLE:" + name, "arn": "arn:aws:sts::" + account + ":assumed-role/" + role + "/" + name,
		"accountId": account, "accessKeyId": "ASIAEXAMPLEZONAL"}
}
