package relay

import (
	"crypto/rand"
	"encoding/binary"
	"sync"
	"time"
)

const crockford = "0123456789abcdefghjkmnpqrstvwxyz"

// ids makes NewID strictly increasing within the process: two ids minted
// in the same millisecond still sort in the order they were made (ULID's
// monotonic rule), so "ORDER BY id" is creation order.
var ids struct {
	sync.Mutex
	last [16]byte
}

// NewID returns a 26-character, lower-case, time-ordered identifier (ULID
// layout: 48 bits of milliseconds, 80 random bits). Ids mean the same on
// every database and sort by creation time.
func NewID() string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(time.Now().UnixMilli())<<16)
	_, _ = rand.Read(b[6:])

	ids.Lock()
	if string(b[:6]) <= string(ids.last[:6]) {
		// Same (or an earlier) millisecond: continue from the last id.
		b = ids.last
		for i := 15; i >= 6; i-- {
			b[i]++
			if b[i] != 0 {
				break
			}
		}
	}
	ids.last = b
	ids.Unlock()

	// 128 bits → 26 base32 digits, most significant first.
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	var out [26]byte
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}
