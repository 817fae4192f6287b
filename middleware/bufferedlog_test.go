package middleware

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// batchWriter records each Write it gets, failing them with err when set.
type batchWriter struct {
	mu      sync.Mutex
	batches []string
	err     error
}

func (w *batchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return 0, w.err
	}
	w.batches = append(w.batches, string(p))
	return len(p), nil
}

func (w *batchWriter) written() (batches int, all string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.batches), strings.Join(w.batches, "")
}

func TestBufferedLogWritesLinesInOneBatch(t *testing.T) {
	var w batchWriter
	l := NewBufferedLog(&w, time.Hour)
	for i := range 3 {
		if n, err := fmt.Fprintf(l, "line %d\n", i); err != nil || n != 7 {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	if n, _ := w.written(); n != 0 {
		t.Fatalf("%d writes before the interval or a Flush, want 0", n)
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	if n, all := w.written(); n != 1 || all != "line 0\nline 1\nline 2\n" {
		t.Fatalf("after Flush: %d writes of %q, want 1 of the 3 lines in order", n, all)
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	if n, _ := w.written(); n != 1 {
		t.Fatalf("a Flush with no line waiting wrote: %d writes", n)
	}
}

func TestBufferedLogWritesWithinTheInterval(t *testing.T) {
	var w batchWriter
	l := NewBufferedLog(&w, 20*time.Millisecond)
	defer l.Close()
	start := time.Now()
	fmt.Fprintln(l, "first")
	fmt.Fprintln(l, "second")
	for {
		if _, all := w.written(); all == "first\nsecond\n" {
			break
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("the lines were not written within 5 s of an interval of 20 ms")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The timer is armed again by the next line.
	fmt.Fprintln(l, "third")
	for {
		if _, all := w.written(); strings.HasSuffix(all, "third\n") {
			return
		}
		if time.Since(start) > 10*time.Second {
			t.Fatal("a line after the first batch was not written")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestBufferedLogWritesAFullBufferItself(t *testing.T) {
	var w batchWriter
	l := NewBufferedLog(&w, time.Hour)
	line := strings.Repeat("x", 1023) + "\n"
	var want strings.Builder
	for range 2 * maxBuffered / len(line) {
		if _, err := l.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
		want.WriteString(line)
	}
	n, _ := w.written()
	if n == 0 {
		t.Fatalf("no write after %d bytes of lines with a buffer of %d", want.Len(), maxBuffered)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, all := w.written(); all != want.String() {
		t.Fatalf("wrote %d bytes, want the %d written, in order", len(all), want.Len())
	}
}

func TestBufferedLogAfterCloseWritesThrough(t *testing.T) {
	var w batchWriter
	l := NewBufferedLog(&w, time.Hour)
	fmt.Fprintln(l, "before")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(l, "after")
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if n, all := w.written(); n != 2 || all != "before\nafter\n" {
		t.Fatalf("%d writes of %q, want the waiting line at Close, then the later one on its own", n, all)
	}
}

func TestBufferedLogReportsWriteErrors(t *testing.T) {
	errDisk := errors.New("disk full")
	t.Run("flush and close", func(t *testing.T) {
		w := batchWriter{err: errDisk}
		l := NewBufferedLog(&w, time.Hour)
		fmt.Fprintln(l, "lost")
		err := l.Flush()
		if !errors.Is(err, errDisk) || !strings.Contains(err.Error(), "5 bytes of log lines lost") {
			t.Fatalf("Flush = %v, want the write's error saying what was lost", err)
		}
		w.mu.Lock()
		w.err = nil
		w.mu.Unlock()
		fmt.Fprintln(l, "kept")
		if err := l.Close(); !errors.Is(err, errDisk) {
			t.Fatalf("Close = %v, want the first write error of the log's life", err)
		}
		if _, all := w.written(); all != "kept\n" {
			t.Fatalf("wrote %q", all)
		}
	})
	t.Run("full buffer", func(t *testing.T) {
		w := batchWriter{err: errDisk}
		l := NewBufferedLog(&w, time.Hour)
		line := bytes.Repeat([]byte("x"), maxBuffered/2)
		var err error
		for i := 0; i < 3 && err == nil; i++ {
			_, err = l.Write(line)
		}
		if !errors.Is(err, errDisk) {
			t.Fatalf("the Write that wrote a full buffer returned %v, want the write's error", err)
		}
		w.mu.Lock()
		w.err = nil
		w.mu.Unlock()
		if err := l.Flush(); err != nil {
			t.Fatal(err)
		}
		if _, all := w.written(); len(all) != len(line) {
			t.Fatalf("after the failed write, %d bytes written, want the line of that Write (%d bytes)", len(all), len(line))
		}
	})
	t.Run("timer", func(t *testing.T) {
		reported := make(chan error, 1)
		old := zerolog.ErrorHandler
		zerolog.ErrorHandler = func(err error) { reported <- err }
		defer func() { zerolog.ErrorHandler = old }()
		w := batchWriter{err: errDisk}
		l := NewBufferedLog(&w, 10*time.Millisecond)
		fmt.Fprintln(l, "lost")
		select {
		case err := <-reported:
			if !errors.Is(err, errDisk) {
				t.Fatalf("reported %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a failed write on the interval's timer was not reported")
		}
		if err := l.Close(); !errors.Is(err, errDisk) {
			t.Fatalf("Close = %v", err)
		}
	})
}

// TestBufferedLogKeepsEveryAuditLine: the route's audit lines through a
// BufferedLog, from concurrent requests, issued and refused: after Close
// every attempt's line is in the underlying writer.
func TestBufferedLogKeepsEveryAuditLine(t *testing.T) {
	sink := &syncBuffer{}
	l := NewBufferedLog(sink, time.Hour)
	issuer := &fakeIssuer{}
	route, err := NewTicketRoute(Config{Identify: identifyByHeader, Decider: allowAll, Issuer: issuer,
		Logger: zerolog.New(l), RateLimit: NoRateLimit})
	if err != nil {
		t.Fatal(err)
	}
	env := &routeEnv{route: route, engine: newEngine(route), issuer: issuer}
	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := req{}
			want := http.StatusOK
			if i%2 == 1 {
				r.body, want = `{"deploymentId":""}`, http.StatusBadRequest
			}
			if w := env.do(r); w.Code != want {
				t.Errorf("status %d, want %d", w.Code, want)
			}
		})
	}
	wg.Wait()
	if got := len(sink.auditEvents(t)); got != 0 {
		t.Fatalf("%d audit lines before Close with an interval of an hour", got)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	outcomes := map[any]int{}
	for _, ev := range sink.auditEvents(t) {
		outcomes[ev["outcome"]]++
	}
	if outcomes["issued"] != n/2 || outcomes["denied"] != n/2 {
		t.Fatalf("audit lines after Close: %v, want %d issued and %d denied", outcomes, n/2, n/2)
	}
}
