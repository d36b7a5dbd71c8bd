package security

import (
	"strings"
	"sync"
	"time"
)

// verifiedTokens remembers JWTs that passed verification, by their exact text, until they expire:
// a dashboard or TV monitor sends the same token on every request, and parsing it (base64 and JSON
// for header and claims, then the HMAC) was the largest cost of an authenticated cache hit. The
// text is the key, so only a token already verified byte for byte is accepted; an entry is never
// used outside the token's own validity window (nbf..exp), and tokens are stateless anyway, so
// remembering one changes nothing a fresh verification would decide. Bounded: when full, the set
// is emptied (the active tokens come back on their next request).
type verifiedTokens struct {
	mu      sync.RWMutex // guards entries
	entries map[string]verifiedToken
	max     int
}

type verifiedToken struct {
	id             Identity
	notBefore, exp time.Time
}

const maxVerifiedTokens = 10000

func newVerifiedTokens() *verifiedTokens {
	return &verifiedTokens{entries: make(map[string]verifiedToken), max: maxVerifiedTokens}
}

// get returns the identity of a token verified before, if it is valid at now.
func (v *verifiedTokens) get(token string, now time.Time) (Identity, bool) {
	v.mu.RLock()
	e, ok := v.entries[token]
	v.mu.RUnlock()
	if !ok || now.Before(e.notBefore) || !now.Before(e.exp) {
		return Identity{}, false
	}
	return e.id, true
}

// put remembers a verified token. It stores its own copy of the text: the caller's token may alias
// a request buffer that the server reuses for the next request, and a key that changed under the
// map would hand one caller's identity to another.
func (v *verifiedTokens) put(token string, id Identity, notBefore, exp time.Time) {
	token = strings.Clone(token)
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.entries) >= v.max {
		clear(v.entries)
	}
	v.entries[token] = verifiedToken{id: id, notBefore: notBefore, exp: exp}
}
