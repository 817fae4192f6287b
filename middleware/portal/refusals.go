package portal

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyportal/keyportal/internal/clientip"
	"github.com/keyportal/keyportal/internal/logthrottle"
)

// refusals counts the exchanges refused before the portal knows who is
// asking: a cross-site request or one from a foreign Origin, or a ticket
// that this portal did not seal or that has expired. Anyone can send those,
// so they are counted and logged at most a few times per client IP instead
// of stored as audit events, which an anonymous flood would pile up without
// bound (docs/design.md "Invariants").
type refusals struct {
	counter *prometheus.CounterVec // nil without a registry
	log     *logthrottle.Throttle
}

func newRefusals(reg prometheus.Registerer) (refusals, error) {
	r := refusals{log: logthrottle.New(0, 0, 0, 0)}
	if reg == nil {
		return r, nil
	}
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "keyportal_exchange_refusals_total",
		Help: "Ticket exchanges refused before the requester is known, by reason (cross_site, foreign_origin, forged, expired), counted instead of audited.",
	}, []string{"reason"})
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		existing, ok := c, false
		if errors.As(err, &are) {
			existing, ok = are.ExistingCollector.(*prometheus.CounterVec)
		}
		if !ok {
			return r, fmt.Errorf("portal: registering metrics: %w", err)
		}
		c = existing
	}
	r.counter = c
	return r, nil
}

// rejCrossSite refuses an exchange called from another site.
var rejCrossSite = rejection{"cross_site", "cross_site", http.StatusForbidden, "tickets are exchanged by the portal page only"}

// anonymousRefusal is a rejection before the requester is known: counted,
// not audited.
type anonymousRefusal struct{ rejection }

// anonymously marks r as a refusal before the requester is known.
func anonymously(r rejection) error { return anonymousRefusal{r} }

// refuseAnonymous counts an exchange refused before the requester is
// known, logs it unless its client IP (clientip.Of, which no client can
// choose) has had its share of lines, and answers it; no audit event.
func (p *Portal) refuseAnonymous(c *gin.Context, r rejection) {
	if p.refusals.counter != nil {
		p.refusals.counter.WithLabelValues(r.reason).Inc()
	}
	ip := clientip.Of(c, &p.log)
	if p.refusals.log.Allow(ip, p.now()) {
		p.log.Warn().Str("action", "ticket.refused").Str("reason", r.reason).
			Str("request_id", requestID(c)).Str("client_ip", ip).Send()
	}
	fail(c, r.status, r.code, r.message)
}
