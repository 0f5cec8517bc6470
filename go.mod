module github.com/s3xguard/s3xguard

go 1.26.8
