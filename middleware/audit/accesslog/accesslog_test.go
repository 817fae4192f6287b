package accesslog_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/keyportal/keyportal/internal/testenv"
	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/audit/accesslog"
)

// memWriter keeps what it is given; gate, when set, holds every write until
// it is closed, and entered is told when a write starts.
type memWriter struct {
	mu      sync.Mutex
	batches [][]audit.Access
	shed    []audit.Shed
	fail    error
	gate    chan struct{}
	entered chan struct{}
}

func (m *memWriter) WriteAccess(ctx context.Context, events []audit.Access, shed []audit.Shed) error {
	if m.entered != nil {
		select {
		case m.entered <- struct{}{}:
		default:
		}
	}
	if m.gate != nil {
		<-m.gate
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.batches = append(m.batches, append([]audit.Access(nil), events...))
	m.shed = append(m.shed, shed...)
	return nil
}

func (m *memWriter) counts() (events int, maxBatch int, shed int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, b := range m.batches {
		events += len(b)
		maxBatch = max(maxBatch, len(b))
	}
	for _, s := range m.shed {
		shed += s.Count
	}
	return
}

func event(app string) audit.Access {
	return audit.Access{AppSlug: app, Outcome: audit.AccessAllowed, Time: time.Date(2026, 3, 1, 12, 0, 30, 0, time.UTC)}
}

// Close writes every buffered event, in batches of at most Batch, even
// when the flush period never came.
func TestCloseWritesBuffered(t *testing.T) {
	w := &memWriter{}
	r, err := accesslog.New(w, accesslog.Config{Batch: 7, FlushEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		r.RecordAccess(event("aa_1"))
	}
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, maxBatch, _ := w.counts(); n != 100 || maxBatch > 7 {
		t.Fatalf("after Close %d events written (largest batch %d), want 100 in batches of at most 7", n, maxBatch)
	}
	if err := r.Flush(context.Background()); !errors.Is(err, accesslog.ErrClosed) {
		t.Fatalf("Flush after Close = %v, want ErrClosed", err)
	}
}

// newRecorder is a recorder over w, closed when the test ends.
func newRecorder(t *testing.T, w *memWriter, cfg accesslog.Config) *accesslog.Recorder {
	t.Helper()
	r, err := accesslog.New(w, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(context.Background()) })
	return r
}

// recordThree is a recorder over w that writes only when flushed, closed
// when the test ends, with three events of aa_1 buffered.
func recordThree(t *testing.T, w *memWriter) *accesslog.Recorder {
	t.Helper()
	r := newRecorder(t, w, accesslog.Config{FlushEvery: time.Hour})
	for range 3 {
		r.RecordAccess(event("aa_1"))
	}
	return r
}

// Flush writes what is buffered and returns after the write.
func TestFlush(t *testing.T) {
	w := &memWriter{}
	r := recordThree(t, w)
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := w.counts(); n != 3 {
		t.Fatalf("after Flush %d events written, want 3", n)
	}
}

// A stuck database never blocks RecordAccess: past the buffer, events are
// shed, counted in the metric, and the counts are written (per app and
// minute) once the database answers again.
func TestShedsWhenFullAndNeverBlocks(t *testing.T) {
	w := &memWriter{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	reg := prometheus.NewRegistry()
	r, err := accesslog.New(w, accesslog.Config{Buffer: 4, Batch: 1, FlushEvery: time.Hour, Metrics: reg})
	if err != nil {
		t.Fatal(err)
	}
	r.RecordAccess(event("aa_1"))
	select {
	case <-w.entered: // the writer holds that event, stuck in the database
	case <-time.After(5 * time.Second):
		t.Fatal("the writer did not start")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 10 {
			r.RecordAccess(event("aa_1"))
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("RecordAccess blocked on a stuck writer")
	}
	if got := r.Shed(); got != 6 {
		t.Fatalf("Shed() = %d, want 6 (10 recorded, 4 buffered)", got)
	}
	if got := testutil.ToFloat64(mustCounter(t, reg, accesslog.ReasonBufferFull)); got != 6 {
		t.Fatalf("keyportal_access_events_shed_total{reason=buffer_full} = %v, want 6", got)
	}
	close(w.gate)
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	n, _, shed := w.counts()
	if n != 5 || shed != 6 {
		t.Fatalf("written %d events and %d shed, want 5 and 6", n, shed)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range w.shed {
		if s.AppSlug != "aa_1" || !s.Minute.Equal(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)) {
			t.Fatalf("shed count %+v, want app aa_1 at minute 12:00", s)
		}
	}
}

// A failed write counts its events as shed, and the next write that works
// stores that count.
func TestFailedWriteCountedAsShed(t *testing.T) {
	w := &memWriter{fail: errors.New("database down")}
	r := recordThree(t, w)
	if err := r.Flush(context.Background()); err == nil {
		t.Fatal("Flush over a failing writer returned nil")
	}
	w.mu.Lock()
	w.fail = nil
	w.mu.Unlock()
	r.RecordAccess(event("aa_1"))
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, _, shed := w.counts(); n != 1 || shed != 3 || r.Shed() != 3 {
		t.Fatalf("written %d, shed stored %d, Shed() %d; want 1, 3, 3", n, shed, r.Shed())
	}
}

// TestFailedWriteLogsToStderrByDefault: with no Logger set, a write that
// fails (events lost) is an error line on stderr, not silence.
func TestFailedWriteLogsToStderrByDefault(t *testing.T) {
	w := &memWriter{fail: errors.New("database down")}
	var r *accesslog.Recorder
	read := testenv.CaptureStderr(t, func() { r = recordThree(t, w) })
	if err := r.Flush(context.Background()); err == nil {
		t.Fatal("Flush over a failing writer returned nil")
	}
	_ = r.Close(context.Background()) // waits for the writer; its lines are out
	if out := read(); !strings.Contains(out, "database down") || !strings.Contains(out, `"level":"error"`) {
		t.Fatalf("stderr %q: want an error line naming the failed write", out)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	if _, err := accesslog.New(nil, accesslog.Config{}); err == nil {
		t.Fatal("New(nil) succeeded")
	}
	if _, err := accesslog.New(&memWriter{}, accesslog.Config{Buffer: -1}); err == nil {
		t.Fatal("New with a negative buffer succeeded")
	}
}

func mustCounter(t *testing.T, reg *prometheus.Registry, reason string) prometheus.Collector {
	t.Helper()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "keyportal_access_events_shed_total",
		Help: "API-key verification events not written to the access log: buffer_full (overload) or write_failed."}, []string{"reason"})
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if !errors.As(err, &are) {
		t.Fatalf("the shed counter is not registered: %v", err)
	}
	return are.ExistingCollector.(*prometheus.CounterVec).WithLabelValues(reason)
}

// waitWritten waits until w holds n events, or fails after 5 s.
func waitWritten(t *testing.T, w *memWriter, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, _, _ := w.counts()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events written, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// A partial batch is written after FlushEvery, without Flush or Close.
func TestFlushEveryWritesPartialBatch(t *testing.T) {
	w := &memWriter{}
	r := newRecorder(t, w, accesslog.Config{FlushEvery: 10 * time.Millisecond})
	r.RecordAccess(event("aa_1"))
	waitWritten(t, w, 1)
}

// A full batch wakes the writer at once, long before FlushEvery.
func TestFullBatchWakesWriter(t *testing.T) {
	w := &memWriter{}
	r := newRecorder(t, w, accesslog.Config{Batch: 5, FlushEvery: time.Hour})
	for range 5 {
		r.RecordAccess(event("aa_1"))
	}
	waitWritten(t, w, 5)
}

// waitEntered waits until w's writer starts a write, or fails after 5 s.
func waitEntered(t *testing.T, w *memWriter) {
	t.Helper()
	select {
	case <-w.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the writer did not start a write")
	}
}

// The events the writer took but has not yet begun to write count against
// Buffer like the queued ones; and Close writes both, the taken ones and
// those queued while the writer was busy.
func TestTakenEventsCountAgainstBuffer(t *testing.T) {
	w := &memWriter{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	r, err := accesslog.New(w, accesslog.Config{Buffer: 4, Batch: 2, FlushEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	record := func(n int) {
		for range n {
			r.RecordAccess(event("aa_1"))
		}
	}
	record(2) // a full batch: the writer takes it and is stuck writing it
	waitEntered(t, w)
	record(5) // 4 queued, 1 shed
	w.gate <- struct{}{}
	waitEntered(t, w) // the writer took the 4 and writes 2 of them
	record(5)         // 2 queued (2 taken still wait), 3 shed
	if got := r.Shed(); got != 4 {
		t.Fatalf("Shed() = %d, want 4", got)
	}
	close(w.gate)
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, maxBatch, shed := w.counts(); n != 8 || maxBatch > 2 || shed != 4 {
		t.Fatalf("written %d events (largest batch %d) and %d shed, want 8 in batches of 2 and 4", n, maxBatch, shed)
	}
}

// Events are written once each, in the order recorded, in batches of at
// most Batch, round after round (the buffer's memory is reused).
func TestWritesInOrderAcrossFlushes(t *testing.T) {
	w := &memWriter{}
	r := newRecorder(t, w, accesslog.Config{Batch: 3, FlushEvery: time.Hour})
	next := 0
	for range 5 {
		for range 7 {
			e := event("aa_1")
			e.RequestID = strconv.Itoa(next)
			next++
			r.RecordAccess(e)
		}
		if err := r.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	want := 0
	for _, b := range w.batches {
		if len(b) > 3 {
			t.Fatalf("a batch of %d events, want at most 3", len(b))
		}
		for _, e := range b {
			if e.RequestID != strconv.Itoa(want) {
				t.Fatalf("event %q written where %d was due", e.RequestID, want)
			}
			want++
		}
	}
	if want != next {
		t.Fatalf("%d events written, want %d", want, next)
	}
}
