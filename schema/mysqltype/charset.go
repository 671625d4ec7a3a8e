package mysqltype

import (
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// charsetDecoders convert text in a MySQL character set to UTF-8 (false:
// not valid in that set). Binlog row events carry character columns in
// their own character set; the text protocol converts to the connection's
// (utf8mb4). Character sets not listed are not supported in the binlog.
var charsetDecoders = map[string]func([]byte) (string, bool){
	"":        utf8Text,
	"utf8mb4": utf8Text,
	"utf8mb3": utf8Text,
	"utf8":    utf8Text,
	"ascii":   utf8Text,
	"binary":  utf8Text,
	"latin1":  latin1Text,
	"ucs2":    func(b []byte) (string, bool) { return utf16Text(b, binary.BigEndian) },
	"utf16":   func(b []byte) (string, bool) { return utf16Text(b, binary.BigEndian) },
	"utf16le": func(b []byte) (string, bool) { return utf16Text(b, binary.LittleEndian) },
	"utf32":   utf32Text,
}

// utf8Charsets are the character sets charsetDecoders reads with
// utf8Text.
var utf8Charsets = map[string]bool{"": true, "utf8mb4": true, "utf8mb3": true, "utf8": true, "ascii": true, "binary": true}

func utf8Text(b []byte) (string, bool) { return string(b), utf8.Valid(b) }

// latin1High maps bytes 0x80-0x9F of MySQL's latin1, which is
// Windows-1252 with the five bytes 1252 leaves undefined mapped to the C1
// controls of the same value. 0xA0-0xFF are U+00A0-U+00FF.
var latin1High = [32]rune{
	0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
	0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
}

func latin1Text(b []byte) (string, bool) {
	var sb strings.Builder
	sb.Grow(len(b) + len(b)/4)
	for _, c := range b {
		switch {
		case c < 0x80:
			sb.WriteByte(c)
		case c < 0xA0:
			sb.WriteRune(latin1High[c-0x80])
		default:
			sb.WriteRune(rune(c))
		}
	}
	return sb.String(), true
}

func utf16Text(b []byte, order binary.ByteOrder) (string, bool) {
	if len(b)%2 != 0 {
		return "", false
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = order.Uint16(b[2*i:])
	}
	for i := 0; i < len(u); i++ { // reject unpaired surrogates
		switch {
		case utf16.IsSurrogate(rune(u[i])) && u[i] < 0xDC00 && i+1 < len(u) && u[i+1] >= 0xDC00 && u[i+1] <= 0xDFFF:
			i++
		case utf16.IsSurrogate(rune(u[i])):
			return "", false
		}
	}
	return string(utf16.Decode(u)), true
}

func utf32Text(b []byte) (string, bool) {
	if len(b)%4 != 0 {
		return "", false
	}
	var sb strings.Builder
	for i := 0; i < len(b); i += 4 {
		r := rune(binary.BigEndian.Uint32(b[i:]))
		if !utf8.ValidRune(r) {
			return "", false
		}
		sb.WriteRune(r)
	}
	return sb.String(), true
}

// charsetText decodes b, text in the MySQL character set charset (as the
// binlog carries ENUM and SET labels), to UTF-8.
func charsetText(charset string, b []byte) (string, error) {
	dec, ok := charsetDecoders[strings.ToLower(charset)]
	if !ok {
		return "", fmt.Errorf("character set %s is not supported in the binlog", charset)
	}
	s, ok := dec(b)
	if !ok {
		return "", fmt.Errorf("%q is not valid %s text", b, charset)
	}
	return s, nil
}
