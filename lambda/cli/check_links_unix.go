//go:build unix

package cli

import (
	"os"
	"syscall"
)

// hardLinks is the number of hard links to fi's file.
func hardLinks(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 2 // unknown: remember it
}
