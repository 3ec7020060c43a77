package redact

// The checksums and plausibility rules of the kinds Redact removes. Digits
// are ASCII bytes '0'..'9'.

// luhn reports whether digits pass the Luhn checksum of card numbers.
func luhn(digits []byte) bool {
	sum := 0
	double := false
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

var (
	idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	idCheck   = "10X98765432"
)

// residentID reports whether the 17 digits and the check character (a digit
// or 'X') form a Chinese resident identity number: a region code starting
// 1 to 8, a calendar birth date from 1900 to 2099, and the ISO 7064 MOD 11-2
// check character. The date rules out most 18-digit numbers the check
// character alone would let through (1 in 11).
func residentID(digits []byte, check byte) bool {
	if len(digits) != 17 || digits[0] < '1' || digits[0] > '8' {
		return false
	}
	if !plausibleDate(num(digits[6:10]), num(digits[10:12]), num(digits[12:14])) {
		return false
	}
	sum := 0
	for i, d := range digits {
		sum += int(d-'0') * idWeights[i]
	}
	return idCheck[sum%11] == check
}

func num(digits []byte) int {
	n := 0
	for _, d := range digits {
		n = n*10 + int(d-'0')
	}
	return n
}

func plausibleDate(year, month, day int) bool {
	if year < 1900 || year > 2099 || month < 1 || month > 12 || day < 1 {
		return false
	}
	days := [13]int{0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[month]
	if month == 2 && year%4 == 0 && (year%100 != 0 || year%400 == 0) {
		days = 29
	}
	return day <= days
}

// ssn reports whether nine digits are a possible US social security number:
// the area is not 000, 666 or 900-999, the group not 00, the serial not
// 0000.
func ssn(digits []byte) bool {
	if len(digits) != 9 {
		return false
	}
	area, group, serial := num(digits[:3]), num(digits[3:5]), num(digits[5:])
	return area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

// ibanLength is the length of each country's IBAN (SWIFT IBAN registry).
// Knowing it tells where an IBAN written in groups ends, and keeps
// two-letters-two-digits words ("MP3", "A4") from being read as one.
var ibanLength = map[string]int{
	"AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16,
	"BG": 22, "BH": 22, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28,
	"CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24,
	"FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18,
	"GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23,
	"IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32,
	"LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24,
	"ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15,
	"PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22,
	"SA": 24, "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25,
	"SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24,
	"XK": 20,
}

// ibanValid reports whether an upper-case IBAN without spaces passes the
// ISO 13616 check: moved country code and check digits first, letters as
// 10..35, the number mod 97 is 1.
func ibanValid(iban []byte) bool {
	rem := 0
	for k := range iban {
		c := iban[(k+4)%len(iban)]
		switch {
		case isASCIIDigit(c):
			rem = (rem*10 + int(c-'0')) % 97
		case 'A' <= c && c <= 'Z':
			rem = (rem*100 + int(c-'A') + 10) % 97
		default:
			return false
		}
	}
	return rem == 1
}

// redactIBANs replaces IBANs, written solid or in groups separated by single
// spaces, in upper or lower case.
func redactIBANs(text string) string {
	var spans []span
	for i := 0; i+4 <= len(text); i++ {
		if !isASCIILetter(text[i]) || (i > 0 && isASCIIAlnum(text[i-1])) {
			continue
		}
		if !isASCIILetter(text[i+1]) || !isASCIIDigit(text[i+2]) || !isASCIIDigit(text[i+3]) {
			continue
		}
		n := ibanLength[string([]byte{text[i] &^ 0x20, text[i+1] &^ 0x20})]
		if n == 0 {
			continue
		}
		var buf [34]byte
		got, j := 0, i
		for got < n && j < len(text) {
			c := text[j]
			switch {
			case isASCIIAlnum(c):
				buf[got] = c
				if isASCIILetter(c) {
					buf[got] = c &^ 0x20
				}
				got++
				j++
				continue
			case c == ' ' && j+1 < len(text) && isASCIIAlnum(text[j+1]):
				j++
				continue
			}
			break
		}
		if got == n && (j == len(text) || !isASCIIAlnum(text[j])) && ibanValid(buf[:n]) {
			spans = append(spans, span{i, j, IBAN})
			i = j
		}
	}
	return replace(text, spans)
}
