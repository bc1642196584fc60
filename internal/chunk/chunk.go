// Package chunk hands out pointers to zero values carved from slices
// allocated many at a time: a config or table of tens of thousands of
// small structs then costs one allocation per chunk instead of one per
// value (issue 18: per-value allocations dominated parsing and building
// 1,000 services x 10 destinations).
package chunk

// Of holds the unused rest of the current chunk of Ts. The zero value is
// ready to use. Values handed out stay valid as long as any of them is
// referenced (they share the chunk's backing array).
type Of[T any] struct {
	free []T
}

// New returns a pointer to a zero T, allocating a chunk of size Ts when
// the current one is used up (size > 0).
func (c *Of[T]) New(size int) *T {
	if len(c.free) == 0 {
		c.free = make([]T, size)
	}
	p := &c.free[0]
	c.free = c.free[1:]
	return p
}
