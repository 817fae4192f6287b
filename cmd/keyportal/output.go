package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/keyportal/keyportal/internal/safetext"
)

// printable returns s with every character that could drive a terminal or
// disguise what it shows (safetext.Unsafe: control characters such as ESC
// and BEL, line breaks, bidi controls, invisible format characters) and
// every byte that is not UTF-8 written as a Go escape: \x1b, \a, \n,
// \u202e, \U000e0041, \xff. Everything else, backslashes included, is
// printed as it is. Every text the command prints from the key store or a
// remote API passes through it (or through jsonLine), so that text stored
// before the store refused such characters, or written by another tool,
// shows what it holds and changes nothing on the operator's terminal.
func printable(s string) string {
	if utf8.ValidString(s) && !safetext.Contains(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case safetext.Unsafe(r):
			q := strconv.QuoteRuneToASCII(r) // '\x1b', '\a', '\u202e'
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// style paints text with ANSI colours when on is set. Every painted string
// carries exactly 9 bytes of escapes (a 5-byte SGR such as "\x1b[31m" and the
// 4-byte reset), so a column whose cells are all painted stays aligned in a
// tabwriter, which counts bytes. The text itself is printable's, painted or
// not: the only escapes on the terminal are the style's own.
type style struct{ on bool }

func (s style) paint(sgr, text string) string {
	if !s.on {
		return printable(text)
	}
	return "\x1b[" + sgr + "m" + printable(text) + "\x1b[0m"
}

func (s style) red(t string) string    { return s.paint("31", t) }
func (s style) green(t string) string  { return s.paint("32", t) }
func (s style) yellow(t string) string { return s.paint("33", t) }
func (s style) bold(t string) string   { return s.paint("01", t) }
func (s style) dim(t string) string    { return s.paint("02", t) }
func (s style) plain(t string) string  { return s.paint("39", t) }

// style returns the style for writing to w: colour when --color=always, or
// when auto and w is a terminal and NO_COLOR is unset (https://no-color.org).
func (c *cli) style(w io.Writer) style {
	switch c.color {
	case "always":
		return style{on: true}
	case "never":
		return style{}
	}
	if c.getenv("NO_COLOR") != "" || c.getenv("TERM") == "dumb" {
		return style{}
	}
	return style{on: isTerminal(w)}
}

// isTerminal reports whether w is a character device (a terminal), without
// depending on a terminal library.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// newTable returns a tabwriter for an aligned table; cells are separated by
// tabs and the caller must Flush.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
}

// row writes one table row.
func row(w io.Writer, cells ...string) {
	fmt.Fprintln(w, strings.Join(cells, "\t"))
}

// jsonLine writes v as one line of JSON. encoding/json escapes the C0
// control characters, U+2028 and U+2029; jsonLine escapes the rest of
// safetext's set too (DEL, C1, bidi and format characters, as \u007f,
// \u202e...), so that a line shown on a terminal drives nothing, and
// decodes to exactly the stored text.
func jsonLine(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(escapeJSON(buf.Bytes()))
	return err
}

// escapeJSON rewrites every character of safetext's set that encoding/json
// leaves raw as a \u escape (a UTF-16 surrogate pair beyond U+FFFF). Such
// characters can only be inside strings, where the escape means the same;
// the encoder's own line end, the only raw control character outside
// strings, is kept.
func escapeJSON(b []byte) []byte {
	i := bytes.IndexFunc(b, func(r rune) bool { return r != '\n' && safetext.Unsafe(r) })
	if i < 0 {
		return b
	}
	out := append(make([]byte, 0, len(b)+16), b[:i]...)
	for _, r := range string(b[i:]) {
		if r == '\n' || !safetext.Unsafe(r) {
			out = utf8.AppendRune(out, r)
			continue
		}
		if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
			out = fmt.Appendf(out, `\u%04x\u%04x`, r1, r2)
		} else {
			out = fmt.Appendf(out, `\u%04x`, r)
		}
	}
	return out
}

// jsonLines writes each of vs as one line of JSON.
func jsonLines[T any](w io.Writer, vs []T) error {
	for _, v := range vs {
		if err := jsonLine(w, v); err != nil {
			return err
		}
	}
	return nil
}

// fmtTime formats a time for tables: UTC, to the second; "-" when zero.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func fmtTimePtr(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return fmtTime(*t)
}

// orDash returns s, or "-" when s is empty, so that table cells never vanish.
func orDash(s string) string { return orDefault(s, "-") }

// orDefault returns s, or placeholder when s is empty.
func orDefault(s, placeholder string) string {
	if s == "" {
		return placeholder
	}
	return s
}

// printList prints the result of a list command: raw as one JSON object a
// line with asJSON; else the note empty when there are no views; else a
// table with header in bold and a row of cells for each view, then, when
// footer is not nil, the line footer gives for the number of views.
func printList[V any](c *cli, asJSON bool, raw []any, views []V, empty string, header []string,
	cells func(st style, v V) []string, footer func(n int) string) error {
	if asJSON {
		return jsonLines(c.out, raw)
	}
	if len(views) == 0 {
		fmt.Fprintln(c.out, empty)
		return nil
	}
	st := c.style(c.out)
	tw := newTable(c.out)
	bold := make([]string, len(header))
	for i, h := range header {
		bold[i] = st.bold(h)
	}
	row(tw, bold...)
	for _, v := range views {
		row(tw, cells(st, v)...)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if footer != nil {
		fmt.Fprintln(c.out, footer(len(views)))
	}
	return nil
}

// plural returns "1 thing" or "n things".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
