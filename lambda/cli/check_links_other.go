//go:build !unix

package cli

import "os"

// hardLinks is the number of hard links to fi's file; unknown here, so
// every file is remembered.
func hardLinks(os.FileInfo) uint64 { return 2 }
