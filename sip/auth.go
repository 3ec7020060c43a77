package sip

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"strings"
	"time"

	siplib "github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// nonceTTL is how long a digest nonce is accepted; after it a correct
// answer gets a fresh challenge with stale=true, so the caller retries
// without asking anyone for the password again.
const nonceTTL = 5 * time.Minute

// authResult is the outcome of checking a request's credentials.
type authResult int

const (
	authOK      authResult = iota
	authMissing            // no credentials for our realm: challenge
	authStale              // right password, expired nonce: challenge with stale=true
	authFailed             // wrong user, password, nonce or realm: challenge and log
)

// digestAuth checks RFC 3261 §22 digest credentials (RFC 2617, MD5 or
// SHA-256, qop=auth or none). Nonces are stateless: a timestamp and random
// bytes signed with the server's key, so nothing is stored per challenge.
// Replays within the nonce lifetime are not detected (no nc tracking).
type digestAuth struct {
	username string
	password string
	realm    string
	key      []byte
	ttl      time.Duration
}

func newDigestAuth(username, password, realm string, key []byte) *digestAuth {
	return &digestAuth{username: username, password: password, realm: realm, key: key, ttl: nonceTTL}
}

// newNonceKey returns a random key for signing nonces.
func newNonceKey() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k) // crypto/rand.Read never fails on supported platforms
	return k
}

// nonce returns a nonce issued at t: hex of 8 bytes of time, 8 random
// bytes and 16 bytes of HMAC over both and the realm.
func (a *digestAuth) nonce(t time.Time) string {
	var b [32]byte
	binary.BigEndian.PutUint64(b[:8], uint64(t.Unix()))
	_, _ = rand.Read(b[8:16])
	copy(b[16:], a.mac(b[:16]))
	return hex.EncodeToString(b[:])
}

func (a *digestAuth) mac(msg []byte) []byte {
	m := hmac.New(sha256.New, a.key)
	m.Write(msg)
	m.Write([]byte(a.realm))
	return m.Sum(nil)[:16]
}

// checkNonce reports whether n is one of ours and whether it has expired.
func (a *digestAuth) checkNonce(n string, now time.Time) (ours, expired bool) {
	b, err := hex.DecodeString(n)
	if err != nil || len(b) != 32 || !hmac.Equal(b[16:], a.mac(b[:16])) {
		return false, false
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(b[:8])), 0)
	age := now.Sub(issued)
	return true, age > a.ttl || age < -time.Minute
}

// challenge is the WWW-Authenticate value for a fresh nonce.
func (a *digestAuth) challenge(now time.Time, stale bool) string {
	c := digest.Challenge{
		Realm:     a.realm,
		Nonce:     a.nonce(now),
		Algorithm: "MD5",
		QOP:       []string{"auth"},
		Stale:     stale,
	}
	return c.String()
}

// verify checks the Authorization headers of req. user is the username the
// request offered, for logs; the header value itself is never returned.
func (a *digestAuth) verify(req *siplib.Request, now time.Time) (res authResult, user string) {
	var creds *digest.Credentials
	for _, h := range req.GetHeaders("Authorization") {
		c, err := digest.ParseCredentials(h.Value())
		if err != nil {
			continue
		}
		if c.Realm == a.realm {
			creds = c
			break
		}
	}
	if creds == nil {
		return authMissing, ""
	}
	user = creds.Username
	ours, expired := a.checkNonce(creds.Nonce, now)
	if !ours || creds.Username != a.username || creds.Userhash {
		return authFailed, user
	}
	alg := strings.ToUpper(creds.Algorithm)
	if alg != "" && alg != "MD5" && alg != "SHA-256" {
		return authFailed, user
	}
	if creds.QOP != "" && creds.QOP != "auth" {
		return authFailed, user
	}
	chal := &digest.Challenge{Realm: a.realm, Nonce: creds.Nonce, Algorithm: alg}
	if creds.QOP != "" {
		chal.QOP = []string{creds.QOP}
		if creds.Cnonce == "" || creds.Nc == 0 {
			return authFailed, user
		}
	}
	want, err := digest.Digest(chal, digest.Options{
		Method:   string(req.Method),
		URI:      creds.URI,
		Username: a.username,
		Password: a.password,
		Cnonce:   creds.Cnonce,
		Count:    creds.Nc,
	})
	if err != nil {
		return authFailed, user
	}
	if subtle.ConstantTimeCompare([]byte(strings.ToLower(creds.Response)), []byte(want.Response)) != 1 {
		return authFailed, user
	}
	if expired {
		return authStale, user
	}
	return authOK, user
}

// authorize checks a request (an INVITE from a trunk, a REGISTER from an
// agent) against a's digest credentials and answers 401 with a fresh
// challenge when they are missing, stale or wrong. Only the username
// offered is ever logged, with who (key-value pairs) naming the account.
func (s *Server) authorize(req *siplib.Request, tx siplib.ServerTransaction, a *digestAuth, src netip.AddrPort, who ...any) bool {
	now := time.Now()
	res, user := a.verify(req, now)
	switch res {
	case authOK:
		return true
	case authFailed:
		if s.limit.allow("auth|"+src.Addr().String(), now) {
			s.log.Warn("digest authentication failed", append(who, "source", src,
				"username", user, "method", req.Method, "call_id", req.CallID().Value())...)
		}
	}
	r := siplib.NewResponseFromRequest(req, 401, "Unauthorized", nil)
	r.AppendHeader(siplib.NewHeader("WWW-Authenticate", a.challenge(now, res == authStale)))
	s.send(tx, r)
	return false
}
