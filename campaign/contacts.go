package campaign

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Contact is one person a campaign calls.
type Contact struct {
	// Number is E.164 ("+4930123456") or national digits, as the trunk
	// dials them.
	Number   string `json:"number"`
	Name     string `json:"name,omitempty"`
	Language string `json:"language,omitempty"`
	// TimeZone is the contact's IANA zone for the calling hours; empty:
	// the campaign's.
	TimeZone string `json:"time_zone,omitempty"`
	// Fields are free columns for the script: product, due_date...
	Fields map[string]string `json:"fields,omitempty"`
	// Line is the contact's line in an uploaded CSV file.
	Line int `json:"-"`
}

// value is the contact's field called name, for the script.
func (c Contact) value(name string) string {
	switch name {
	case "name":
		return c.Name
	case "number":
		return c.Number
	case "language":
		return c.Language
	case "time_zone":
		return c.TimeZone
	}
	return c.Fields[name]
}

// Limits of an upload.
const (
	MaxContacts = 100_000
	maxFields   = 32
	maxValue    = 500
)

var (
	numberChars = regexp.MustCompile(`^\+?[0-9]{3,20}$`)
	fieldName   = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)
	language    = regexp.MustCompile(`^[a-z]{2}(-[A-Z]{2})?$`)
	// separators callers write in numbers and that the trunk does not want
	separators = strings.NewReplacer(" ", "", "-", "", ".", "", "(", "", ")", "")
)

// ErrInvalid wraps every rejected input: a malformed upload or spec, a
// state change the campaign's state does not allow.
var ErrInvalid = errors.New("invalid")

// LineError is a bad line of an upload.
type LineError struct {
	Line int
	Msg  string
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// Unwrap makes a bad line ErrInvalid.
func (e *LineError) Unwrap() error { return ErrInvalid }

// ParseCSV reads contacts from CSV with a header line. The header names
// the columns: number (required), name, language, time_zone, and any
// other column (lower case letters, digits, _) is a free field such as
// product or due_date. The first bad line stops it with a LineError.
func ParseCSV(r io.Reader) ([]Contact, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 0
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, &LineError{Line: 1, Msg: "empty file: want a header line such as number,name,language,time_zone"}
	}
	if err != nil {
		return nil, csvError(err, 1)
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff")
	}
	cols, err := parseHeader(header)
	if err != nil {
		return nil, err
	}
	var out []Contact
	seen := map[string]int{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// FieldPos has nothing for a record that failed.
			return nil, csvError(err, 0)
		}
		line, _ := cr.FieldPos(0)
		if len(out) == MaxContacts {
			return nil, &LineError{Line: line, Msg: fmt.Sprintf("more than %d contacts", MaxContacts)}
		}
		c := Contact{Line: line}
		for i, v := range rec {
			c.set(cols[i], strings.TrimSpace(v))
		}
		if err := c.check(); err != nil {
			return nil, &LineError{Line: line, Msg: err.Error()}
		}
		if first, dup := seen[c.Number]; dup {
			return nil, &LineError{Line: line, Msg: fmt.Sprintf("number %s already on line %d", c.Number, first)}
		}
		seen[c.Number] = line
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, &LineError{Line: 2, Msg: "no contacts after the header"}
	}
	return out, nil
}

// csvError turns the csv package's error into a LineError.
func csvError(err error, line int) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &LineError{Line: pe.Line, Msg: pe.Err.Error()}
	}
	return &LineError{Line: max(line, 1), Msg: err.Error()}
}

func parseHeader(header []string) ([]string, error) {
	cols := make([]string, len(header))
	seen := map[string]bool{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		switch h {
		case "phone", "telephone":
			h = "number"
		case "timezone", "tz":
			h = "time_zone"
		}
		if !fieldName.MatchString(h) {
			return nil, &LineError{Line: 1, Msg: fmt.Sprintf("column %d %q: want a name of lower case letters, digits and _", i+1, clipText(h))}
		}
		if seen[h] {
			return nil, &LineError{Line: 1, Msg: fmt.Sprintf("column %q twice", h)}
		}
		seen[h] = true
		cols[i] = h
	}
	if !seen["number"] {
		return nil, &LineError{Line: 1, Msg: "no number column"}
	}
	if len(cols) > maxFields {
		return nil, &LineError{Line: 1, Msg: fmt.Sprintf("%d columns, at most %d", len(cols), maxFields)}
	}
	return cols, nil
}

func (c *Contact) set(col, v string) {
	switch col {
	case "number":
		c.Number = v
	case "name":
		c.Name = v
	case "language":
		c.Language = v
	case "time_zone":
		c.TimeZone = v
	default:
		if v == "" {
			return
		}
		if c.Fields == nil {
			c.Fields = map[string]string{}
		}
		c.Fields[col] = v
	}
}

// check normalizes the number and checks every field.
func (c *Contact) check() error {
	n := separators.Replace(c.Number)
	if !numberChars.MatchString(n) {
		return fmt.Errorf("number %q: want 3 to 20 digits, optionally after a +", clipText(c.Number))
	}
	c.Number = n
	if c.Language != "" && !language.MatchString(c.Language) {
		return fmt.Errorf("language %q: want a code such as en or zh", clipText(c.Language))
	}
	if c.TimeZone != "" {
		if _, err := time.LoadLocation(c.TimeZone); err != nil || strings.Contains(c.TimeZone, "..") {
			return fmt.Errorf("time_zone %q: not a time zone (such as Europe/Berlin)", clipText(c.TimeZone))
		}
	}
	if len(c.Fields) > maxFields {
		return fmt.Errorf("%d fields, at most %d", len(c.Fields), maxFields)
	}
	if err := checkValue("name", c.Name); err != nil {
		return err
	}
	for k, v := range c.Fields {
		if !fieldName.MatchString(k) {
			return fmt.Errorf("field %q: want a name of lower case letters, digits and _", clipText(k))
		}
		if err := checkValue(k, v); err != nil {
			return err
		}
	}
	return nil
}

func checkValue(name, v string) error {
	switch {
	case len(v) > maxValue:
		return fmt.Errorf("%s: longer than %d bytes", name, maxValue)
	case !utf8.ValidString(v):
		return fmt.Errorf("%s: not UTF-8", name)
	case strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return fmt.Errorf("%s: control characters", name)
	}
	return nil
}

// ParseJSON reads contacts from a JSON array of objects with number,
// name, language, time_zone and fields; the first bad one stops it, named
// by its position from 1.
func ParseJSON(b []byte) ([]Contact, error) {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	var cs []Contact
	if err := dec.Decode(&cs); err != nil {
		return nil, fmt.Errorf("contacts: want a JSON array of {number, name, language, time_zone, fields}: %w: %w", err, ErrInvalid)
	}
	if len(cs) == 0 || len(cs) > MaxContacts {
		return nil, fmt.Errorf("contacts: 1 to %d contacts: %w", MaxContacts, ErrInvalid)
	}
	seen := map[string]int{}
	for i := range cs {
		if err := cs[i].check(); err != nil {
			return nil, fmt.Errorf("contact %d: %w: %w", i+1, err, ErrInvalid)
		}
		if first, dup := seen[cs[i].Number]; dup {
			return nil, fmt.Errorf("contact %d: number %s already contact %d: %w", i+1, cs[i].Number, first, ErrInvalid)
		}
		seen[cs[i].Number] = i + 1
	}
	return cs, nil
}

// NormalizeNumber checks a number as an upload does and returns it without
// separators, for the do-not-call list.
func NormalizeNumber(s string) (string, error) {
	n := separators.Replace(strings.TrimSpace(s))
	if !numberChars.MatchString(n) {
		return "", fmt.Errorf("number %q: want 3 to 20 digits, optionally after a +: %w", clipText(s), ErrInvalid)
	}
	return n, nil
}

// clipText shortens what an error echoes of the input.
func clipText(s string) string {
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}

func errorsInvalid(err error) error { return fmt.Errorf("%w: %w", err, ErrInvalid) }
