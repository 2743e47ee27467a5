package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Apply carries plan out against table, in the Plan's order: release, renew, acquire. A renewal
// the table refuses with ErrLeaseLost is lost; an acquisition refused with ErrLeaseHeld (another
// node was quicker) is skipped; a release refused with ErrLeaseLost counts as released. Any other
// error is returned, joined with the others, beside the Outcome of what did happen: a lease whose
// renewal failed that way stays held until it expires (Owner.Owns stops serving it then).
func Apply(ctx context.Context, table LeaseTable, plan Plan) (Outcome, error) {
	out := Outcome{Lost: plan.Lost}
	var errs []error
	for _, l := range plan.Release {
		if err := table.Release(ctx, l); err != nil && !errors.Is(err, ErrLeaseLost) {
			errs = append(errs, err)
		}
		out.Released = append(out.Released, l)
	}
	for _, l := range plan.Renew {
		nl, err := table.Renew(ctx, l, plan.Now, plan.TTL)
		switch {
		case err == nil:
			out.Renewed = append(out.Renewed, nl)
		case errors.Is(err, ErrLeaseLost):
			out.Lost = append(out.Lost, l)
		default:
			errs = append(errs, err)
		}
	}
	for _, p := range plan.Acquire {
		l, err := table.Acquire(ctx, p, plan.Node, plan.Now, plan.TTL)
		switch {
		case err == nil:
			out.Acquired = append(out.Acquired, l)
		case !errors.Is(err, ErrLeaseHeld):
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// Step is one turn of a node's owner loop at now: beat in members, read the lease table and the
// live nodes, Tick, Apply and Advance. The shell calls it every RenewEvery on its clock; the
// simulator on the virtual one. The Outcome says which partitions to stop serving (Lost, Released)
// and which to restore and start serving (Acquired).
func Step(ctx context.Context, o *Owner, table LeaseTable, members Members, now time.Time) (Outcome, error) {
	if err := members.Beat(ctx, o.cfg.ID, now, o.cfg.LeaseTTL); err != nil {
		return Outcome{}, fmt.Errorf("owner %q: %w", o.cfg.ID, err)
	}
	leases, err := table.Leases(ctx)
	if err != nil {
		return Outcome{}, fmt.Errorf("owner %q: read leases: %w", o.cfg.ID, err)
	}
	live, err := members.Live(ctx, now)
	if err != nil {
		return Outcome{}, fmt.Errorf("owner %q: read live nodes: %w", o.cfg.ID, err)
	}
	out, err := Apply(ctx, table, o.Tick(now, leases, live))
	o.Advance(out)
	if err != nil {
		return out, fmt.Errorf("owner %q: %w", o.cfg.ID, err)
	}
	return out, nil
}
