package middleware

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Defaults of NewBufferedLog.
const (
	// DefaultFlushInterval is the longest a line waits in a BufferedLog
	// before it is written.
	DefaultFlushInterval = 100 * time.Millisecond
	// maxBuffered is how many bytes of lines a BufferedLog holds before
	// the Write that would exceed it writes them itself.
	maxBuffered = 64 << 10
)

// BufferedLog is an io.Writer for the ticket route's Logger (Config.Logger)
// that batches its lines: zerolog writes each audit line with a Write of its
// own, one write(2) per ticket to a log file; a BufferedLog copies the line
// into memory and writes the lines waiting in one Write to the underlying
// writer, at the latest interval after the first of them, sooner when 64 KiB
// are waiting (then the Write that would exceed that writes them on its own
// goroutine), and on Flush and Close. Lines keep their order.
//
// Durability bound: a line reaches the underlying writer at most interval
// after its Write returned. A graceful shutdown loses none: call Close after
// the server has shut down (http.Server.Shutdown returned), which writes
// every line still waiting; a Write after Close goes straight through. A
// process that crashes or is killed loses the lines of at most its last
// interval. A store that must not lose even those is an Auditor
// (Config.Auditor), which the route calls before answering.
//
// A failed write of the underlying writer is never silent: the lines it held
// are lost and the error says how many bytes; it is returned by the Write,
// Flush or Close that wrote them, and reported as zerolog reports its own
// write errors (zerolog.ErrorHandler, else a line on os.Stderr) when the
// interval's timer wrote them. Close returns the first such error of the
// log's life, so a shutdown can tell the log is incomplete.
//
// It is safe for concurrent use; it does not close the underlying writer.
type BufferedLog struct {
	w        io.Writer
	interval time.Duration

	writing sync.Mutex // held while a batch is written, so batches keep their order

	mu       sync.Mutex // guards the fields below
	buf      []byte     // lines waiting
	spare    []byte     // the buffer of the batch last written, for reuse
	timer    *time.Timer
	armed    bool // the timer will write buf
	closed   bool
	firstErr error
}

// NewBufferedLog returns a BufferedLog writing to w at least every interval
// (DefaultFlushInterval when interval is zero or negative).
func NewBufferedLog(w io.Writer, interval time.Duration) *BufferedLog {
	if interval <= 0 {
		interval = DefaultFlushInterval
	}
	l := &BufferedLog{w: w, interval: interval}
	l.timer = time.AfterFunc(time.Hour, l.flushOnTimer)
	l.timer.Stop()
	return l
}

// Write copies p, one log line, into the buffer (into w directly after
// Close). It returns an error only when it wrote the waiting lines itself
// and that write failed: those lines are lost, p is still kept.
func (l *BufferedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	switch {
	case l.closed:
		l.mu.Unlock()
		l.writing.Lock() // after the last batch
		defer l.writing.Unlock()
		return l.w.Write(p)
	case len(l.buf) > 0 && len(l.buf)+len(p) > maxBuffered:
		l.mu.Unlock()
		err := l.Flush()
		if n, _ := l.Write(p); err != nil {
			return n, err // p is kept: only the lines before it are lost
		}
		return len(p), nil
	}
	l.buf = append(l.buf, p...)
	if !l.armed {
		l.armed = true
		l.timer.Reset(l.interval)
	}
	l.mu.Unlock()
	return len(p), nil
}

// Flush writes the lines waiting, and returns the error of that write.
func (l *BufferedLog) Flush() error { return l.flush(false) }

// Close writes the lines waiting and makes later Writes go straight to the
// underlying writer. It returns the first write error of the log's life
// (nil when every line was written). Calling it again does no harm.
func (l *BufferedLog) Close() error {
	_ = l.flush(true) // its error is firstErr, or later than it
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.firstErr
}

// flush takes the lines waiting, closing the log when closing, and writes
// them.
func (l *BufferedLog) flush(closing bool) error {
	l.writing.Lock()
	defer l.writing.Unlock()
	l.mu.Lock()
	batch := l.buf
	l.buf, l.spare = l.spare[:0], nil
	if l.armed {
		l.armed = false
		l.timer.Stop()
	}
	l.closed = l.closed || closing
	l.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	err := l.writeBatch(batch)
	l.mu.Lock()
	if l.spare == nil {
		l.spare = batch[:0]
	}
	if err != nil && l.firstErr == nil {
		l.firstErr = err
	}
	l.mu.Unlock()
	return err
}

// writeBatch writes batch to w, turning a failure into an error that says
// what was lost.
func (l *BufferedLog) writeBatch(batch []byte) error {
	n, err := l.w.Write(batch)
	if err == nil && n < len(batch) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return fmt.Errorf("middleware: buffered log: %d bytes of log lines lost: %w", len(batch)-n, err)
	}
	return nil
}

// flushOnTimer is Flush when the interval has passed: its error has no
// caller to return to, so it is reported as zerolog reports its own.
func (l *BufferedLog) flushOnTimer() {
	if err := l.Flush(); err != nil {
		if zerolog.ErrorHandler != nil {
			zerolog.ErrorHandler(err)
		} else {
			fmt.Fprintf(os.Stderr, "zerolog: could not write event: %v\n", err)
		}
	}
}
