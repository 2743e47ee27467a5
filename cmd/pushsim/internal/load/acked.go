package load

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/client"
)

// ackedCheck is what checkAcked found: how many acknowledged sends it looked for, how many of
// them the relay did not keep, and the first of those.
type ackedCheck struct {
	checked, lost int
	firstLost     string
}

// checkAcked looks for each recipient's acknowledged texts (acked, by target phone) among the
// texts the relay keeps for it (stored), workers recipients at a time, and counts those missing.
// A recipient whose stored texts cannot be read fails the check: a lost message must not pass
// for an unreadable one.
func checkAcked(ctx context.Context, acked map[int][]string, workers int, stored func(ctx context.Context, to int) (map[string]bool, error)) (ackedCheck, error) {
	todo := make(chan int)
	var mu sync.Mutex
	var res ackedCheck
	var firstErr error
	var wg sync.WaitGroup
	for range max(1, workers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for to := range todo {
				have, err := stored(ctx, to)
				mu.Lock()
				if err != nil {
					if firstErr == nil {
						firstErr = fmt.Errorf("%s: %w", phoneUser(to), err)
					}
					mu.Unlock()
					continue
				}
				for _, text := range acked[to] {
					res.checked++
					if !have[text] {
						res.lost++
						if res.firstLost == "" {
							res.firstLost = fmt.Sprintf("%q to %s", text, phoneUser(to))
						}
					}
				}
				mu.Unlock()
			}
		}()
	}
	for to := range acked {
		if ctx.Err() != nil {
			break
		}
		todo <- to
	}
	close(todo)
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return res, firstErr
}

// storedTexts reads the texts the relay keeps for target phone to's user: a connection of its
// own, logged in as that user on a device of its own, syncs from the start until nothing more
// remains.
func (r *run) storedTexts(ctx context.Context, to int) (map[string]bool, error) {
	user := phoneUser(to)
	c, err := client.Dial(ctx, r.srv.relayURLs[to%len(r.srv.relayURLs)], client.Options{Dialer: r.dialer(to)})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	sig := relay.MakeUserSig(loadSecret, relay.UserSigClaims{SDKAppID: r.srv.app, UserID: user, Expire: time.Now().Add(time.Hour).Unix()})
	if err := c.Login(ctx, r.srv.app, user, sig, "load-check", "android"); err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	texts := map[string]bool{}
	var since uint64
	for {
		rep, err := c.Do(ctx, relay.ClientFrame{Op: relay.OpSync, Since: since})
		if err != nil {
			return nil, fmt.Errorf("sync since %d: %w", since, err)
		}
		for _, m := range rep.Msgs {
			texts[m.Text] = true
			since = max(since, m.Seq)
		}
		if !rep.More || len(rep.Msgs) == 0 {
			return texts, nil
		}
	}
}
