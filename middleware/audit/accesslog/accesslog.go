// Package accesslog records API-key verifications (audit.Access) off the
// request path: RecordAccess puts the event in a bounded buffer and returns;
// a background writer takes batches from the buffer and writes each with one
// audit.AccessWriter call (the key stores: one transaction, one multi-row
// INSERT and the per-minute rollups).
//
// When the buffer is full (the database is slower than the traffic, or
// down) RecordAccess sheds the event instead of waiting: the request never
// waits for the log. Shed events are counted, per app and minute, and the
// counts are written with the next batch (audit.Analytics.Shed shows them on
// the portal's Overview) and exported as the Prometheus counter
// keyportal_access_events_shed_total. Events of a batch whose write failed
// are counted the same way, with reason "write_failed".
//
// Close (or Flush) writes what is buffered: call it at shutdown, after the
// HTTP server stopped taking requests.
//
// The package links no database driver: the middleware package uses it.
package accesslog

import (
	"cmp"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/keyportal/keyportal/internal/logx"
	"github.com/keyportal/keyportal/internal/promreg"
	"github.com/keyportal/keyportal/middleware/audit"
)

// Defaults for the zero values of Config.
const (
	// DefaultBuffer is how many events wait for the writer before new ones
	// are shed: a few seconds of a busy instance's traffic.
	DefaultBuffer = 1 << 16
	// DefaultBatch is the most events one write holds.
	DefaultBatch = 1000
	// DefaultFlushEvery is how long an event waits at most for its batch to
	// fill before the batch is written anyway.
	DefaultFlushEvery = 200 * time.Millisecond
	// DefaultWriteTimeout bounds one write.
	DefaultWriteTimeout = 10 * time.Second
)

// Shed reasons, the label of keyportal_access_events_shed_total.
const (
	ReasonBufferFull  = "buffer_full"  // RecordAccess found the buffer full
	ReasonWriteFailed = "write_failed" // the batch's write failed
)

// ErrClosed is returned by Flush after Close.
var ErrClosed = errors.New("accesslog: recorder closed")

// Config configures a Recorder; the zero value of every field means its
// default.
type Config struct {
	// Buffer is how many events may wait for the writer; beyond it events
	// are shed (counted, not written). Its memory is taken a batch at a
	// time as the traffic needs it, and kept for reuse: at most about twice
	// Buffer events (the writer's and the requests'). Default DefaultBuffer.
	Buffer int
	// Batch is the most events one AccessWriter call holds. Default
	// DefaultBatch.
	Batch int
	// FlushEvery is how long a partial batch waits before it is written.
	// Default DefaultFlushEvery.
	FlushEvery time.Duration
	// WriteTimeout bounds each AccessWriter call. Default
	// DefaultWriteTimeout.
	WriteTimeout time.Duration
	// Metrics, when set, receives keyportal_access_events_written_total and
	// keyportal_access_events_shed_total{reason}. Nil exports nothing (the
	// counts still reach the store).
	Metrics prometheus.Registerer
	// Logger receives one line per failed write (at most one a second).
	// The zero value means JSON lines on stderr; zerolog.Nop() silences.
	Logger zerolog.Logger
}

// Recorder is an audit.AccessRecorder that writes in batches in the
// background. Build it with New; it is safe for concurrent use.
//
// Its buffer (a queue of batch-sized chunks) is guarded by a mutex: a
// request pays an append under it, and wakes the writer only when its
// event completes a batch; otherwise the writer wakes every FlushEvery and
// takes every queued chunk at once.
type Recorder struct {
	w          audit.AccessWriter
	every      time.Duration
	timeout    time.Duration
	log        zerolog.Logger
	written    prometheus.Counter
	shedFull   prometheus.Counter
	shedFailed prometheus.Counter

	q queue // the events waiting for the writer

	shedMu sync.Mutex
	shed   map[shedKey]int64 // not yet written
	// shedTotal counts every event shed since New, for tests and Stats.
	shedTotal atomic.Int64
	// lastErrLog is when a write failure was last logged (unix ns).
	lastErrLog atomic.Int64

	// kick wakes the writer when a batch is queued.
	kick     chan struct{}
	flush    chan chan error
	quit     chan struct{}
	done     chan struct{}
	closeOne sync.Once
}

type shedKey struct {
	app    string
	minute int64 // unix ns, truncated to the minute
}

var _ audit.AccessRecorder = (*Recorder)(nil)

// New starts a recorder writing to w. Misconfiguration (a negative size or
// duration, a metrics registry that refuses the collectors) fails here.
func New(w audit.AccessWriter, cfg Config) (*Recorder, error) {
	if w == nil {
		return nil, errors.New("accesslog: the AccessWriter is required")
	}
	if cfg.Buffer < 0 || cfg.Batch < 0 || cfg.FlushEvery < 0 || cfg.WriteTimeout < 0 {
		return nil, errors.New("accesslog: Config sizes and durations must not be negative")
	}
	r := &Recorder{
		w: w, every: cmp.Or(cfg.FlushEvery, DefaultFlushEvery), timeout: cmp.Or(cfg.WriteTimeout, DefaultWriteTimeout), log: logx.Or(cfg.Logger, "accesslog"),
		shed: map[shedKey]int64{}, kick: make(chan struct{}, 1), flush: make(chan chan error), quit: make(chan struct{}), done: make(chan struct{}),
	}
	buffer, batch := cmp.Or(cfg.Buffer, DefaultBuffer), cmp.Or(cfg.Batch, DefaultBatch)
	if cfg.Metrics != nil {
		written := prometheus.NewCounter(prometheus.CounterOpts{
			Name: "keyportal_access_events_written_total",
			Help: "API-key verification events written to the access log.",
		})
		shed := prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyportal_access_events_shed_total",
			Help: "API-key verification events not written to the access log: buffer_full (overload) or write_failed.",
		}, []string{"reason"})
		var err error
		if r.written, err = promreg.Register(cfg.Metrics, "accesslog", written); err != nil {
			return nil, err
		}
		if shed, err = promreg.Register(cfg.Metrics, "accesslog", shed); err != nil {
			return nil, err
		}
		r.shedFull, r.shedFailed = shed.WithLabelValues(ReasonBufferFull), shed.WithLabelValues(ReasonWriteFailed)
	}
	r.q = queue{limit: buffer, size: min(batch, buffer)}
	go r.run()
	return r, nil
}

// RecordAccess queues e for writing, or sheds it when the buffer is full.
// It never blocks: it holds the queue's mutex for an append (and, while the
// buffer grows, the allocation of one batch's chunk). A zero e.Time is the
// current time.
func (r *Recorder) RecordAccess(e audit.Access) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	ok, filled := r.q.push(e)
	if !ok {
		r.addShed(e.AppSlug, e.Time, 1)
		if r.shedFull != nil {
			r.shedFull.Inc()
		}
		return
	}
	if filled {
		select {
		case r.kick <- struct{}{}:
		default: // the writer is already told
		}
	}
}

// Shed returns how many events were shed since New (buffer full or write
// failed).
func (r *Recorder) Shed() int64 { return r.shedTotal.Load() }

func (r *Recorder) addShed(app string, t time.Time, n int64) {
	k := shedKey{app, t.UTC().Truncate(time.Minute).UnixNano()}
	r.shedMu.Lock()
	r.shed[k] += n
	r.shedMu.Unlock()
	r.shedTotal.Add(n)
}

// takeShed returns the shed counts not yet written, and forgets them.
func (r *Recorder) takeShed() []audit.Shed {
	r.shedMu.Lock()
	defer r.shedMu.Unlock()
	if len(r.shed) == 0 {
		return nil
	}
	out := make([]audit.Shed, 0, len(r.shed))
	for k, n := range r.shed {
		out = append(out, audit.Shed{AppSlug: k.app, Minute: time.Unix(0, k.minute).UTC(), Count: n})
		delete(r.shed, k)
	}
	return out
}

// Flush writes every event buffered when it is called, and the shed counts,
// before it returns; ctx bounds the wait. ErrClosed after Close.
func (r *Recorder) Flush(ctx context.Context) error {
	reply := make(chan error, 1)
	select {
	case r.flush <- reply:
	case <-r.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close writes what is buffered and stops the writer; ctx bounds the wait
// (the writer goes on in the background if ctx ends first). Events recorded
// after Close are not written. Close is idempotent.
func (r *Recorder) Close(ctx context.Context) error {
	r.closeOne.Do(func() { close(r.quit) })
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run is the background writer.
func (r *Recorder) run() {
	defer close(r.done)
	t := time.NewTicker(r.every)
	defer t.Stop()
	for {
		select {
		case <-r.kick:
		case <-t.C:
		case reply := <-r.flush:
			reply <- r.drain()
			continue
		case <-r.quit:
			r.drain()
			return
		}
		r.drain()
	}
}

// drain writes the events queued now, a chunk (a batch) a write, and the
// shed counts; it returns the first write's error.
func (r *Recorder) drain() error {
	chunks := r.q.take()
	defer r.q.giveBack(chunks)
	if len(chunks) == 0 {
		return r.write(nil, r.takeShed())
	}
	var first error
	for _, events := range chunks {
		r.q.writing(len(events))
		if err := r.write(events, r.takeShed()); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// write hands one batch to the writer, if it holds events or shed counts.
// On failure the batch's events are counted as shed (reason write_failed),
// so that the next write that works stores their count; the shed counts it
// carried are put back.
func (r *Recorder) write(events []audit.Access, shed []audit.Shed) error {
	if len(events) == 0 && len(shed) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	defer cancel()
	err := r.w.WriteAccess(ctx, events, shed)
	if err == nil {
		if r.written != nil {
			r.written.Add(float64(len(events)))
		}
		return nil
	}
	r.shedMu.Lock()
	for _, s := range shed {
		r.shed[shedKey{s.AppSlug, s.Minute.UnixNano()}] += s.Count
	}
	r.shedMu.Unlock()
	for _, e := range events {
		r.addShed(e.AppSlug, e.Time, 1)
	}
	if r.shedFailed != nil {
		r.shedFailed.Add(float64(len(events)))
	}
	now, last := time.Now().UnixNano(), r.lastErrLog.Load()
	if now-last >= int64(time.Second) && r.lastErrLog.CompareAndSwap(last, now) {
		r.log.Error().Err(err).Int("events", len(events)).Msg("accesslog: writing verification events failed; they are counted as shed")
	}
	return err
}
