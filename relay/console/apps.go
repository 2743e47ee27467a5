package console

import (
	"net/http"

	"github.com/pushlab/pushlab/relay"
)

// appRoutes registers the apps pages.
func (c *Console) appRoutes() {
	c.mux.Handle("GET /console/apps", c.page(c.appsPage))
}

// appsList is what the apps page shows.
type appsList struct {
	Apps []relay.AppView
}

func (c *Console) appsPage(w http.ResponseWriter, r *http.Request, s *session) {
	var ans struct {
		Apps []relay.AppView `json:"apps"`
	}
	if err := c.cfg.API.Do(r.Context(), http.MethodGet, "/admin/v1/apps", nil, &ans); err != nil {
		c.apiFailure(w, r, s, "", err)
		return
	}
	c.render(w, r, s, http.StatusOK, "apps", "Apps", appsList{Apps: ans.Apps})
}
