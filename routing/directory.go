package routing

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Customer is one entry of the VIP directory.
type Customer struct {
	// Number in normalized form (see NormalizeNumber).
	Number string
	Name   string
	// Tier is the customer's level ("gold", "platinum"); "vip" when the
	// file leaves it empty.
	Tier string
	// Advisor is the id of the customer's dedicated agent, if any.
	Advisor string
}

// Directory is the VIP customer directory, looked up by caller number. It is
// read-only once parsed, so lookups need no lock.
type Directory struct {
	byNumber map[string]Customer
}

// Len is the number of customers.
func (d *Directory) Len() int {
	if d == nil {
		return 0
	}
	return len(d.byNumber)
}

// Lookup finds the customer calling from number, in any common notation.
func (d *Directory) Lookup(number string) (Customer, bool) {
	if d == nil {
		return Customer{}, false
	}
	n, err := NormalizeNumber(number)
	if err != nil {
		return Customer{}, false
	}
	c, ok := d.byNumber[n]
	return c, ok
}

// RowError is a malformed directory row.
type RowError struct {
	Line int
	Err  error
}

func (e *RowError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

func (e *RowError) Unwrap() error { return e.Err }

// LoadDirectory reads the CSV file at path; see ParseDirectory.
func LoadDirectory(path string) (*Directory, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("routing: vip directory: %w", err)
	}
	defer f.Close()
	d, err := ParseDirectory(f)
	if err != nil {
		return d, fmt.Errorf("routing: vip directory %s: %w", path, err)
	}
	return d, nil
}

// ParseDirectory reads a VIP directory: CSV rows of number, name, tier and
// advisor (the last three may be empty; an advisor column may be left out).
// A first row starting with "number" is a header. Blank lines and lines
// starting with # are skipped.
//
// Malformed rows do not cost the customers on good rows: the directory of
// every good row is returned together with an error joining a *RowError per
// bad row. Only a failure to read returns a nil directory.
func ParseDirectory(r io.Reader) (*Directory, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.Comment = '#'
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	d := &Directory{byNumber: make(map[string]Customer)}
	first := make(map[string]int) // number → line it was first given on
	var bad []error
	for row := 0; ; row++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			bad = append(bad, &RowError{Line: pe.Line, Err: pe.Err})
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if row == 0 && strings.EqualFold(strings.TrimSpace(rec[0]), "number") {
			continue
		}
		c, err := parseCustomer(rec)
		if err == nil {
			if at, dup := first[c.Number]; dup {
				err = fmt.Errorf("number %s is already on line %d", c.Number, at)
			}
		}
		if err != nil {
			bad = append(bad, &RowError{Line: line, Err: err})
			continue
		}
		first[c.Number] = line
		d.byNumber[c.Number] = c
	}
	return d, errors.Join(bad...)
}

func parseCustomer(rec []string) (Customer, error) {
	if len(rec) < 3 || len(rec) > 4 {
		return Customer{}, fmt.Errorf("%d fields, want number, name, tier and advisor", len(rec))
	}
	n, err := NormalizeNumber(rec[0])
	if err != nil {
		return Customer{}, err
	}
	c := Customer{Number: n, Name: strings.TrimSpace(rec[1]), Tier: strings.TrimSpace(rec[2])}
	if c.Tier == "" {
		c.Tier = "vip"
	}
	if len(rec) == 4 {
		c.Advisor = strings.TrimSpace(rec[3])
	}
	return c, nil
}

// NormalizeNumber reduces a phone number to its digits in international
// form, E.164 without the "+": "+1 (555) 010-4477", "001 555 010 4477" and
// "tel:+15550104477" all become "15550104477". Spaces, dots, dashes and
// parentheses are ignored; a leading "+" or "00" marks the international
// prefix. Normalizing a normalized number changes nothing. Numbers in national form are kept as their digits, so a directory
// should list numbers the way the trunk presents callers, best with country
// codes.
func NormalizeNumber(s string) (string, error) {
	orig := s
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(strings.TrimPrefix(s, "tel:"), "sip:")
	if at := strings.IndexAny(s, "@;"); at >= 0 {
		s = s[:at] // sip:+15550104477@carrier;user=phone
	}
	var b strings.Builder
	plus := false
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && b.Len() == 0 && !plus:
			plus = true
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return "", fmt.Errorf("number %q: unexpected %q", orig, r)
		}
	}
	n := b.String()
	// Country codes never start with 0, so "000…" is a national number and
	// the result is the same when normalized again.
	switch {
	case plus && strings.HasPrefix(n, "0"):
		return "", fmt.Errorf("number %q: no country code starts with 0", orig)
	case !plus && len(n) > 2 && n[:2] == "00" && n[2] != '0':
		n = n[2:]
	}
	if len(n) < 5 || len(n) > 15 {
		return "", fmt.Errorf("number %q: %d digits, want 5 to 15", orig, len(n))
	}
	return n, nil
}
