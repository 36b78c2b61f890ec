// Package logbuf is a goroutine-safe in-memory sink for logs and process
// output, for tests that read what gitrelay wrote while it still runs.
package logbuf

import (
	"bytes"
	"sync"
)

// Buffer collects writes from any number of goroutines. The zero value is
// ready to use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
