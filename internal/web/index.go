package web

import (
	"net/http"
	"net/url"

	"github.com/gitrelay/gitrelay/internal/httpx"
)

// indexSection is the index's state on an integration's page.
type indexSection struct {
	Status httpx.IndexStatus
	// Failing are the repositories whose last read failed.
	Failing []httpx.IndexRepository
}

// fillIndex adds the integration's index state to its page; the page
// shows without it when it cannot be read.
func (p *Pages) fillIndex(r *http.Request, id string, f *integrationForm) {
	st, err := p.c.Actions.IndexStatus(r.Context(), viewerFrom(r.Context()).P, id)
	if err != nil {
		p.log.WarnContext(r.Context(), "index status", "integration", id, "err", err)
		return
	}
	sec := &indexSection{Status: httpx.IndexStatusOf(st)}
	for _, repo := range sec.Status.Repositories {
		if repo.Failure != "" {
			sec.Failing = append(sec.Failing, repo)
		}
	}
	f.Index = sec
}

// ReindexIntegration reads every repository of the integration again, or
// the one named by repository_id.
func (p *Pages) ReindexIntegration(w http.ResponseWriter, r *http.Request) error {
	v := viewerFrom(r.Context())
	id := r.PathValue("id")
	if _, err := p.c.Actions.Reindex(r.Context(), v.P, id, r.PostFormValue("repository_id")); err != nil {
		return err
	}
	return p.redirectWith(w, r, "/admin/integrations/"+url.PathEscape(id), flash{Notice: "The repositories will be read again in full within seconds."})
}
