package bytebound

import "sync"

// Bound counts the bytes of queued items against a maximum. It is safe
// for concurrent use; the zero value is not usable (see New).
type Bound struct {
	max   int64
	mu    sync.Mutex
	held  int64         // bytes added and not yet released
	freed chan struct{} // signalled (never blocking) by Release
}

// New returns a bound that admits while fewer than max bytes are held.
func New(max int64) *Bound {
	return &Bound{max: max, freed: make(chan struct{}, 1)}
}

// Wait blocks until fewer than the maximum bytes are held, and reports
// true; it reports false as soon as stop is closed while it waits.
func (b *Bound) Wait(stop <-chan struct{}) bool {
	for b.Held() >= b.max {
		select {
		case <-b.freed:
		case <-stop:
			return false
		}
	}
	return true
}

// Add counts n more bytes as held: call it when an item is admitted.
func (b *Bound) Add(n int64) {
	b.mu.Lock()
	b.held += n
	b.mu.Unlock()
}

// Release returns n bytes of a taken item and wakes a waiting producer.
func (b *Bound) Release(n int64) {
	b.Add(-n)
	select {
	case b.freed <- struct{}{}:
	default:
	}
}

// Held is the number of bytes added and not yet released.
func (b *Bound) Held() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.held
}
