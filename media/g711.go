package media

import (
	"math/bits"
	"strings"
)

// Codec encodes and decodes one RTP audio payload format.
type Codec interface {
	Name() string       // SDP encoding name: "PCMU", "PCMA"
	PayloadType() uint8 // static RTP payload type: 0, 8
	ClockRate() int     // 8000
	// Encode returns the payload for pcm in dst[:n], reusing dst's capacity
	// when it suffices.
	Encode(dst []byte, pcm []int16) []byte
	// Decode returns the samples of payload in dst[:n], reusing dst's
	// capacity when it suffices.
	Decode(dst []int16, payload []byte) []int16
}

var (
	// PCMU is G.711 μ-law, RTP payload type 0.
	PCMU Codec = ulaw{}
	// PCMA is G.711 A-law, RTP payload type 8.
	PCMA Codec = alaw{}
)

// CodecByName returns the codec for an SDP encoding name, case-insensitively.
func CodecByName(name string) (Codec, bool) {
	for _, c := range []Codec{PCMU, PCMA} {
		if strings.EqualFold(name, c.Name()) {
			return c, true
		}
	}
	return nil, false
}

// Decoding is a lookup in tables built from the reference expanders; encoding
// is a segment search on the magnitude, a handful of instructions a sample.
var ulawTable, alawTable [256]int16

func init() {
	for i := range 256 {
		ulawTable[i] = ulawDecode(byte(i))
		alawTable[i] = alawDecode(byte(i))
	}
}

type ulaw struct{}

func (ulaw) Name() string       { return "PCMU" }
func (ulaw) PayloadType() uint8 { return 0 }
func (ulaw) ClockRate() int     { return 8000 }

func (ulaw) Encode(dst []byte, pcm []int16) []byte {
	dst = codecBuf(dst, len(pcm))
	for i, x := range pcm {
		dst[i] = ulawEncode(x)
	}
	return dst
}

func (ulaw) Decode(dst []int16, payload []byte) []int16 {
	dst = codecPCM(dst, len(payload))
	for i, b := range payload {
		dst[i] = ulawTable[b]
	}
	return dst
}

type alaw struct{}

func (alaw) Name() string       { return "PCMA" }
func (alaw) PayloadType() uint8 { return 8 }
func (alaw) ClockRate() int     { return 8000 }

func (alaw) Encode(dst []byte, pcm []int16) []byte {
	dst = codecBuf(dst, len(pcm))
	for i, x := range pcm {
		dst[i] = alawEncode(x)
	}
	return dst
}

func (alaw) Decode(dst []int16, payload []byte) []int16 {
	dst = codecPCM(dst, len(payload))
	for i, b := range payload {
		dst[i] = alawTable[b]
	}
	return dst
}

const ulawBias = 0x84

// ulawEncode is the Sun/CCITT linear2ulaw on 16-bit input: bias the
// magnitude, find the segment from its top bit, keep four mantissa bits, and
// invert every bit of the code as G.711 transmits it.
func ulawEncode(x int16) byte {
	m, mask := int32(x), byte(0xFF)
	if m < 0 {
		m, mask = -m, 0x7F
	}
	m = min(m+ulawBias, 0x7FFF) // clip into the top segment
	seg := bits.Len32(uint32(m)) - 8
	return byte(seg<<4|int(m>>(seg+3))&0x0F) ^ mask
}

func ulawDecode(u byte) int16 {
	u = ^u
	t := (int32(u&0x0F)<<3 + ulawBias) << ((u & 0x70) >> 4)
	if u&0x80 != 0 {
		return int16(ulawBias - t)
	}
	return int16(t - ulawBias)
}

// alawEncode is the Sun/CCITT linear2alaw on 16-bit input. Negative values
// use the one's complement, so x and ^x differ only in the sign bit, and even
// bits are inverted (the 0x55 mask) as G.711 transmits them.
func alawEncode(x int16) byte {
	m, mask := int32(x), byte(0xD5)
	if m < 0 {
		m, mask = ^m, 0x55
	}
	if m < 0x100 { // segment 0 is linear, step 16
		return byte(m>>4) ^ mask
	}
	seg := bits.Len32(uint32(m)) - 8
	return byte(seg<<4|int(m>>(seg+3))&0x0F) ^ mask
}

func alawDecode(a byte) int16 {
	a ^= 0x55
	t := int32(a&0x0F)<<4 + 8
	if seg := (a & 0x70) >> 4; seg > 0 {
		t = (t + 0x100) << (seg - 1)
	}
	if a&0x80 != 0 {
		return int16(t)
	}
	return int16(-t)
}

func codecBuf(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}

func codecPCM(s []int16, n int) []int16 {
	if cap(s) < n {
		return make([]int16, n)
	}
	return s[:n]
}
