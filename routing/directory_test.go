package routing

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const directoryCSV = `number,name,tier,advisor
# platinum customers have an advisor
+1 (555) 010-0100,Grace Hopper,platinum,vera
"+44 20 7946 0018","Lovelace, Ada",gold
0033 1 23 45 67 89,Marie Curie,,
+1 555 010 0100,Someone Else,gold,
555-CALL-NOW,Letters,gold,
12,Too Short,gold,
+49 30 1234567,Too,Many,Fields,Here

tel:+81-3-1234-5678,Hayao,silver,vic
"+1 555 010 0300,Unclosed,gold
`

func TestParseDirectory(t *testing.T) {
	d, err := ParseDirectory(strings.NewReader(directoryCSV))
	if d == nil {
		t.Fatalf("no directory: %v", err)
	}
	for _, tc := range []struct {
		number              string
		name, tier, advisor string
	}{
		{"+15550100100", "Grace Hopper", "platinum", "vera"},
		{"001 555 010 0100", "Grace Hopper", "platinum", "vera"},
		{"sip:+15550100100@carrier.example;user=phone", "Grace Hopper", "platinum", "vera"},
		{"442079460018", "Lovelace, Ada", "gold", ""},
		{"+33123456789", "Marie Curie", "vip", ""},
		{"+81 3 1234 5678", "Hayao", "silver", "vic"},
	} {
		c, ok := d.Lookup(tc.number)
		if !ok || c.Name != tc.name || c.Tier != tc.tier || c.Advisor != tc.advisor {
			t.Errorf("Lookup(%q) = %+v, %v; want %s, %s, %q", tc.number, c, ok, tc.name, tc.tier, tc.advisor)
		}
	}
	if d.Len() != 4 {
		t.Errorf("%d customers, want the 4 good rows", d.Len())
	}
	for _, n := range []string{"+1 555 010 0999", "not a number", ""} {
		if c, ok := d.Lookup(n); ok {
			t.Errorf("Lookup(%q) found %+v", n, c)
		}
	}

	// Each bad row is reported with its line.
	var lines []int
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var re *RowError
		if !errors.As(e, &re) {
			t.Fatalf("%v is not a RowError", e)
		}
		lines = append(lines, re.Line)
	}
	want := []int{6, 7, 8, 9, 12}
	if len(lines) != len(want) {
		t.Fatalf("bad rows on lines %v, want %v\n%v", lines, want, err)
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Fatalf("bad rows on lines %v, want %v\n%v", lines, want, err)
		}
	}
	if !strings.Contains(err.Error(), "line 6: number 15550100100 is already on line 3") {
		t.Errorf("duplicate not explained: %v", err)
	}
}

func TestLoadDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vip.csv")
	if err := os.WriteFile(path, []byte("+1 555 010 0100,Grace,platinum,vera\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := LoadDirectory(path)
	if err != nil || d.Len() != 1 {
		t.Fatalf("%v customers, %v", d.Len(), err)
	}
	if _, err := LoadDirectory(filepath.Join(t.TempDir(), "missing.csv")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	var none *Directory
	if _, ok := none.Lookup("+15550100100"); ok || none.Len() != 0 {
		t.Error("a nil directory found a customer")
	}
}

func TestNormalizeNumber(t *testing.T) {
	for in, want := range map[string]string{
		"+1 (555) 010-4477":   "15550104477",
		"(+1) 555.010.4477":   "15550104477",
		"0015550104477":       "15550104477",
		"tel:+15550104477":    "15550104477",
		"sip:+1555@host":      "", // too short
		"5550104477":          "5550104477",
		"+1 555 010 4477 ext": "",
		"++15550104477":       "",
		"1+5550104477":        "",
		"+1234567890123456":   "",
		"+0 0100 1234":        "", // no country code starts with 0
		"0001001234":          "0001001234",
		"020 7946 0018":       "02079460018",
	} {
		got, err := NormalizeNumber(in)
		if (want == "") != (err != nil) || got != want {
			t.Errorf("NormalizeNumber(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// FuzzParseDirectory: any input parses without panicking into a directory
// whose every customer is found by their own number, with errors that name
// lines of the input.
func FuzzParseDirectory(f *testing.F) {
	f.Add(directoryCSV)
	f.Add("number,name,tier,advisor\n")
	f.Add("\"a\"\"b\",c\n\"")
	f.Add("+1 555 010 0100,x,y,z\r\n+1 555 010 0101,,,\n")
	f.Fuzz(func(t *testing.T, in string) {
		d, err := ParseDirectory(strings.NewReader(in))
		if d == nil {
			t.Fatalf("no directory: %v", err)
		}
		for n, c := range d.byNumber {
			if got, ok := d.Lookup(n); !ok || got != c {
				t.Fatalf("customer %+v not found by %q", c, n)
			}
		}
		if err == nil {
			return
		}
		lines := strings.Count(in, "\n") + 1
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			var re *RowError
			if !errors.As(e, &re) || re.Line < 1 || re.Line > lines {
				t.Fatalf("error %v: want a RowError on one of %d lines", e, lines)
			}
		}
	})
}
