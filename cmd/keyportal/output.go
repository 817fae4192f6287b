package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

// style paints text with ANSI colours when on is set. Every painted string
// carries exactly 9 bytes of escapes (a 5-byte SGR such as "\x1b[31m" and the
// 4-byte reset), so a column whose cells are all painted stays aligned in a
// tabwriter, which counts bytes.
type style struct{ on bool }

func (s style) paint(sgr, text string) string {
	if !s.on {
		return text
	}
	return "\x1b[" + sgr + "m" + text + "\x1b[0m"
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

// jsonLine writes v as one line of JSON.
func jsonLine(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
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
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// plural returns "1 thing" or "n things".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
