package fakefcm

import "github.com/pushlab/pushlab/internal/prefetch"

// warmBatch is how many tokens WarmTokens works through together.
const warmBatch = 8

// WarmTokens is a hint that changes nothing: messages to tokens are on their way to the core.
// It starts fetching each token's device record and throttles into the processor's caches, all
// of them at once (at 100,000 devices each is otherwise a first read of several hundred
// nanoseconds, one after another).
func (c *Core) WarmTokens(tokens []string) {
	for len(tokens) > 0 {
		n := min(len(tokens), warmBatch)
		var ds [warmBatch]*device
		for i, t := range tokens[:n] {
			ds[i] = c.devices[t]
			prefetch.Of(ds[i])
		}
		for _, d := range ds[:n] {
			if d == nil || d.limits == nil {
				continue
			}
			l := d.limits
			prefetch.Of(l)
			prefetch.Of(&l.minute)
			prefetch.Of(&l.hour)
			prefetch.Of(&l.bucket)
		}
		tokens = tokens[n:]
	}
}
