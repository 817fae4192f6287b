package accesslog

import (
	"sync"

	"github.com/keyportal/keyportal/middleware/audit"
)

// queue is a Recorder's buffer: the events recorded and not yet written, in
// chunks of one batch each, under a mutex. RecordAccess pushes an event;
// the writer takes every chunk at once, writes them one by one and gives
// them back, emptied, for reuse. A chunk never grows, so a request never
// waits for a large copy; memory is taken a chunk at a time as the traffic
// needs it, and kept.
type queue struct {
	mu    sync.Mutex
	limit int // how many events may wait (Config.Buffer)
	size  int // events per chunk (Config.Batch, at most limit)
	// chunks are the queued events, every chunk full but the last; queued
	// counts them.
	chunks [][]audit.Access
	queued int
	// waiting counts the events the writer took and has not yet handed to
	// a write: with queued, what limit bounds.
	waiting int
	// free holds emptied chunks; spare is the list of the last chunks
	// taken, emptied, which the next take puts in place of chunks.
	free  [][]audit.Access
	spare [][]audit.Access
}

// push appends e, unless limit events wait already (ok false); filled tells
// that e filled a chunk: a batch is ready.
func (q *queue) push(e audit.Access) (ok, filled bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.queued+q.waiting >= q.limit {
		return false, false
	}
	n := len(q.chunks)
	if n == 0 || len(q.chunks[n-1]) == q.size {
		q.chunks = append(q.chunks, q.newChunk())
		n++
	}
	q.chunks[n-1] = append(q.chunks[n-1], e)
	q.queued++
	return true, len(q.chunks[n-1]) == q.size
}

// newChunk returns an empty chunk, a free one if there is one.
func (q *queue) newChunk() []audit.Access {
	if n := len(q.free); n > 0 {
		c := q.free[n-1]
		q.free = q.free[:n-1]
		return c
	}
	return make([]audit.Access, 0, q.size)
}

// take returns the queued chunks; their events wait for a write until
// writing counts them out.
func (q *queue) take() [][]audit.Access {
	q.mu.Lock()
	defer q.mu.Unlock()
	chunks := q.chunks
	q.chunks, q.spare = q.spare, nil
	q.waiting, q.queued = q.queued, 0
	return chunks
}

// writing records that n of the taken events are handed to a write.
func (q *queue) writing(n int) {
	q.mu.Lock()
	q.waiting -= n
	q.mu.Unlock()
}

// giveBack keeps the taken chunks, written, for reuse: emptied, for they
// must not hold the events' strings.
func (q *queue) giveBack(chunks [][]audit.Access) {
	for i, c := range chunks {
		clear(c)
		chunks[i] = c[:0]
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.free = append(q.free, chunks...)
	clear(chunks)
	q.spare = chunks[:0]
}
