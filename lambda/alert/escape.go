package alert

import "github.com/s3xguard/s3xguard/lambda/printable"

// escape makes one free-text value safe to print in a line of the email,
// the SMS or chat: object keys, user agents and raw input are written by
// the caller (printable.Escape says what is escaped and how).
func escape(s string) string { return printable.Escape(s) }

func escapeAll(ss []string) []string { return printable.All(ss) }
