package cloudtrail

import "testing"

// The bucket's owner is read from the first DirectoryBucket entry that
// names a bucket, whatever order resources are in.
func TestBucketAccount(t *testing.T) {
	for in, want := range map[string]string{
		`{"resources":[{"type":"AWS::S3Express::DirectoryBucket","ARN":"arn:aws:s3express:us-east-1:999999999999:bucket/b--use1-az4--x-s3"}]}`:                                                                                                 "999999999999",
		`{"resources":[{"type":"AWS::S3Express::DirectoryBucket","ARN":"arn:aws:s3express:us-east-1:111111111111:bucket/b/k"},{"ARN":"arn:aws:s3express:us-east-1:222222222222:b--use1-az4--x-s3","type":"AWS::S3Express::DirectoryBucket"}]}`: "222222222222",
		`{"resources":[{"type":"AWS::S3::AccessPoint","ARN":"arn:aws:s3express:us-east-1:333333333333:accesspoint/a--use1-az4--xa-s3"}]}`:                                                                                                      "",
		`{"requestParameters":{"bucketName":"b--use1-az4--x-s3"}}`: "",
	} {
		r, err := DecodeEvent([]byte(in))
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if r.BucketAccount != want {
			t.Errorf("%s: BucketAccount = %q; want %q", in, r.BucketAccount, want)
		}
	}
}
