// Package vault seals secrets (integration credentials, users' PATs) with
// AES-256-GCM, bound to the row that owns them, and rotates the keys that
// seal them without downtime.
//
// A sealed secret is
//
//	version (1 byte) | key id (8 bytes) | nonce (12 bytes) | ciphertext+tag
//
// where the key id is the first 8 bytes of SHA-256 of the key, so that no key
// ids need configuring and any ring holding the key can open the secret. The
// additional data is the header (version and key id) followed by the owner
// string: a ciphertext copied to another row, or given another key id, does
// not open.
package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/gitrelay/gitrelay/internal/relay"
)

const (
	// KeySize is the size of every key: AES-256.
	KeySize = 32

	formatVersion = 1
	idSize        = 8
	headerSize    = 1 + idSize
	nonceSize     = 12
	tagSize       = 16
	overhead      = headerSize + nonceSize + tagSize
)

var (
	// ErrUnknownKey: the secret was sealed with a key the ring does not
	// hold (an old key removed too early, or a key from another install).
	ErrUnknownKey = errors.New("vault: secret cannot be opened: it was sealed with a key that is not configured")
	// ErrCorrupt: the secret is not in the sealed format, was sealed for
	// another owner, or was altered. AES-GCM cannot tell these apart.
	ErrCorrupt = errors.New("vault: secret cannot be opened: wrong key or tampered")
)

// KeyID names a key: the first 8 bytes of its SHA-256. It identifies the key
// without revealing anything useful about it.
type KeyID [idSize]byte

func (id KeyID) String() string { return hex.EncodeToString(id[:]) }

// IDOf returns the id of key.
func IDOf(key []byte) KeyID {
	sum := sha256.Sum256(key)
	return KeyID(sum[:idSize])
}

// KeyIDOf returns the id of the key a secret was sealed with, without
// opening it.
func KeyIDOf(sealed []byte) (KeyID, error) {
	if len(sealed) < headerSize || sealed[0] != formatVersion {
		return KeyID{}, ErrCorrupt
	}
	return KeyID(sealed[1:headerSize]), nil
}

// Ring holds the keys in force: it seals with the primary and opens with
// any of them. A Ring never changes after NewRing, so it is safe for
// concurrent use; sources that change (a key file) swap whole rings.
type Ring struct {
	primary KeyID
	ids     []KeyID // in the order given, primary first
	aeads   map[KeyID]cipher.AEAD
}

var _ relay.Sealer = (*Ring)(nil)

// NewRing builds a ring from keys, each KeySize bytes; the first is the
// primary. The ring keeps no copy of the key bytes.
func NewRing(keys ...[]byte) (*Ring, error) {
	if len(keys) == 0 {
		return nil, errors.New("vault: no keys given")
	}
	r := &Ring{aeads: make(map[KeyID]cipher.AEAD, len(keys))}
	for i, k := range keys {
		if len(k) != KeySize {
			return nil, fmt.Errorf("vault: key %d is %d bytes; each key must be %d bytes", i+1, len(k), KeySize)
		}
		id := IDOf(k)
		if _, dup := r.aeads[id]; dup {
			return nil, fmt.Errorf("vault: key %d is given twice (key id %s)", i+1, id)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("vault: key %d: %w", i+1, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("vault: key %d: %w", i+1, err)
		}
		r.aeads[id] = aead
		r.ids = append(r.ids, id)
	}
	r.primary = r.ids[0]
	return r, nil
}

// Primary returns the id of the key new secrets are sealed with.
func (r *Ring) Primary() KeyID { return r.primary }

// IDs returns the ids of the ring's keys, primary first.
func (r *Ring) IDs() []KeyID { return append([]KeyID(nil), r.ids...) }

// Has reports whether the ring holds the key with this id.
func (r *Ring) Has(id KeyID) bool {
	_, ok := r.aeads[id]
	return ok
}

// NeedsReseal reports whether sealed was sealed with a key other than the
// primary, so that rotation should seal it again. It is false for bytes
// that are not a sealed secret at all: sealing them again cannot help.
func (r *Ring) NeedsReseal(sealed []byte) bool {
	id, err := KeyIDOf(sealed)
	return err == nil && id != r.primary
}

// String keeps key schedules out of logs and %v output.
func (r *Ring) String() string {
	return fmt.Sprintf("vault.Ring{primary: %s, keys: %d}", r.primary, len(r.ids))
}

// GoString is String, for %#v.
func (r *Ring) GoString() string { return r.String() }

// Seal encrypts plaintext for owner with the primary key.
func (r *Ring) Seal(plaintext []byte, owner string) ([]byte, error) {
	out := make([]byte, headerSize+nonceSize, overhead+len(plaintext))
	out[0] = formatVersion
	copy(out[1:headerSize], r.primary[:])
	nonce := out[headerSize:]
	// crypto/rand.Read never fails (it crashes the program rather than
	// return weak bytes), and a random 96-bit nonce is safe for far more
	// secrets than one key will ever seal.
	_, _ = rand.Read(nonce)
	ad := additionalData(out[:headerSize], owner)
	return r.aeads[r.primary].Seal(out, nonce, plaintext, ad), nil
}

// Open decrypts a secret sealed for owner by any key of the ring. Errors
// wrap ErrUnknownKey or ErrCorrupt and never include the secret or a key.
func (r *Ring) Open(sealed []byte, owner string) ([]byte, error) {
	if len(sealed) < overhead || sealed[0] != formatVersion {
		return nil, ErrCorrupt
	}
	id := KeyID(sealed[1:headerSize])
	aead, ok := r.aeads[id]
	if !ok {
		return nil, fmt.Errorf("%w (key id %s)", ErrUnknownKey, id)
	}
	nonce := sealed[headerSize : headerSize+nonceSize]
	plaintext, err := aead.Open(nil, nonce, sealed[headerSize+nonceSize:], additionalData(sealed[:headerSize], owner))
	if err != nil {
		return nil, ErrCorrupt
	}
	return plaintext, nil
}

// additionalData binds a ciphertext to its header and owner. The header has
// a fixed size, so header+owner is unambiguous.
func additionalData(header []byte, owner string) []byte {
	ad := make([]byte, 0, len(header)+len(owner))
	ad = append(ad, header...)
	return append(ad, owner...)
}

// NewKey returns a new random key.
func NewKey() []byte {
	k := make([]byte, KeySize)
	_, _ = rand.Read(k)
	return k
}
