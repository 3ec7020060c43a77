package pcapfile

import (
	"bytes"
	"net/netip"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	t0 := time.Unix(1700000000, 123000)
	in := []Packet{
		{Time: t0, Src: netip.MustParseAddrPort("127.0.0.1:4000"), Dst: netip.MustParseAddrPort("127.0.0.2:5000"), Payload: []byte("hello")},
		{Time: t0.Add(20 * time.Millisecond), Src: netip.MustParseAddrPort("10.0.0.1:1"), Dst: netip.MustParseAddrPort("10.0.0.2:2"), Payload: []byte{}},
	}
	var buf bytes.Buffer
	if err := Write(&buf, in); err != nil {
		t.Fatal(err)
	}
	out, err := Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 {
		t.Fatalf("%d packets", len(out))
	}
	for i := range in {
		if out[i].Src != in[i].Src || out[i].Dst != in[i].Dst || !bytes.Equal(out[i].Payload, in[i].Payload) || !out[i].Time.Equal(in[i].Time) {
			t.Errorf("packet %d: %+v, want %+v", i, out[i], in[i])
		}
	}
}

func TestReadRejectsGarbage(t *testing.T) {
	for _, b := range [][]byte{nil, []byte("not a pcap at all, not at all"), make([]byte, 24)} {
		if _, err := Read(bytes.NewReader(b)); err == nil {
			t.Errorf("Read(%q) succeeded", b)
		}
	}
}
