package store_test

import (
	"context"
	"testing"

	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

func TestRepositoryNamesComeFromTheCachePerIntegrationAndTenant(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		for _, id := range []string{"i1", "i2"} {
			in := newIntegration("t1", id)
			must(t, db.CreateIntegration(ctx, in, credential(in), auditFor(relay.ActionIntegrationCreate)))
		}
		other := newIntegration("t2", "i3")
		must(t, db.CreateIntegration(ctx, other, credential(other), auditFor(relay.ActionIntegrationCreate)))
		must(t, db.ReplaceRepositories(ctx, "t1", "i1", []relay.Repository{repo("1", "acme/widgets"), repo("2", "acme/gadgets")}, at(1)))
		must(t, db.ReplaceRepositories(ctx, "t1", "i2", []relay.Repository{repo("1", "tools/widgets")}, at(1)))
		must(t, db.ReplaceRepositories(ctx, "t2", "i3", []relay.Repository{repo("2", "secret/other-tenant")}, at(1)))
		got, err := db.RepositoryNames(ctx, "t1", []string{"1", "2", "9"})
		must(t, err)
		want := map[string]string{"i1/1": "acme/widgets", "i1/2": "acme/gadgets", "i2/1": "tools/widgets"}
		wantEqual(t, "names", got, want)
		none, err := db.RepositoryNames(ctx, "t1", nil)
		must(t, err)
		wantEqual(t, "names of no ids", none, map[string]string{})
	})
}
