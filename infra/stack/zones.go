package stack

import (
	"fmt"
	"strings"
)

// zones are the Availability Zone IDs where S3 Express One Zone directory
// buckets exist, by region (S3 user guide, "S3 Express One Zone
// Availability Zones and Regions", as of 2026-12). An AZ ID missing here is
// an error, not a pass: a typo or a zone of another region would give a
// guard that watches nothing. Add a zone when AWS adds one.
var zones = map[string]string{
	"use1-az4": "us-east-1", "use1-az5": "us-east-1", "use1-az6": "us-east-1",
	"use2-az1": "us-east-2", "use2-az2": "us-east-2",
	"usw2-az1": "us-west-2", "usw2-az3": "us-west-2", "usw2-az4": "us-west-2",
	"aps1-az1": "ap-south-1", "aps1-az3": "ap-south-1",
	"apne1-az1": "ap-northeast-1", "apne1-az4": "ap-northeast-1",
	"euw1-az1": "eu-west-1", "euw1-az3": "eu-west-1",
	"eun1-az1": "eu-north-1", "eun1-az2": "eu-north-1", "eun1-az3": "eu-north-1",
}

// localZoneParents are the regions whose Local Zones (IDs such as
// usw2-lax1-az1, FACTS §9) may hold directory buckets, by the zone ID's
// region prefix. AWS's list of Local Zones changes often, so a Local Zone
// is checked by its parent region only.
var localZoneParents = map[string]string{
	"use1": "us-east-1", "usw2": "us-west-2",
}

// zoneInRegion checks that bucket (BASE--ZONE--x-s3) lives in region.
func zoneInRegion(bucket, region string) error {
	name := strings.TrimSuffix(bucket, "--x-s3")
	i := strings.LastIndex(name, "--")
	if i < 0 {
		return fmt.Errorf("no zone ID in the name (want BASE--AZID--x-s3)")
	}
	zone := name[i+2:]
	want, ok := zones[zone]
	if !ok {
		if parts := strings.Split(zone, "-"); len(parts) == 3 && strings.HasPrefix(parts[2], "az") {
			want, ok = localZoneParents[parts[0]]
		}
	}
	if !ok {
		return fmt.Errorf("zone %s is not a zone S3 Express One Zone offers (infra/stack/zones.go lists them)", zone)
	}
	if want != region {
		return fmt.Errorf("zone %s is in %s, not the target's region %s", zone, want, region)
	}
	return nil
}
