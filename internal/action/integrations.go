package action

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// IntegrationInput creates an integration.
type IntegrationInput struct {
	Kind           relay.Kind
	Name           string
	BaseURL        string
	Options        map[string]string
	Credential     relay.Credential
	RequireUserPAT bool
	// Projects nil associates with all projects.
	Projects []string
	// Repositories nil includes every repository the integration account
	// can see; a list (of the host's repository ids) includes only those.
	Repositories []string
	// Enabled defaults to true.
	Enabled *bool
}

// IntegrationPatch changes an integration; nil fields stay as they are.
type IntegrationPatch struct {
	// Kind changes the kind of host; like BaseURL and Options, it needs
	// the Credential again.
	Kind           *relay.Kind
	Name           *string
	BaseURL        *string
	Options        map[string]string
	Credential     *relay.Credential
	RequireUserPAT *bool
	Enabled        *bool
	// SetProjects true replaces the association with Projects (nil = all).
	SetProjects bool
	Projects    []string
	// SetRepositories true replaces the included repositories with
	// Repositories (nil = every repository the account can see).
	SetRepositories bool
	Repositories    []string
}

// MaxRepositories bounds an integration's chosen repositories: enough for
// the largest organisations' hand-picked lists, small enough to keep an
// integration row and its settings page cheap.
const MaxRepositories = 5000

// maxRepositoryID bounds one repository id; hosts' ids are numbers, GUIDs
// or paths well below it.
const maxRepositoryID = 1024

// CreateIntegration validates the host settings and the credential against
// the host, then stores the integration. Warnings tell the administrator
// about settings that will refuse actions (Require User PAT on a host
// without PATs).
func (s *Service) CreateIntegration(ctx context.Context, p relay.Principal, req IntegrationInput) (relay.Integration, []string, error) {
	ev := s.event(p, relay.ActionIntegrationCreate, "", "")
	ev.Detail = string(req.Kind)
	if err := requireAdmin(p); err != nil {
		return relay.Integration{}, nil, s.fail(ctx, ev, nil, err)
	}
	in := relay.Integration{
		ID: relay.NewID(), TenantID: p.TenantID, Kind: req.Kind, Name: strings.TrimSpace(req.Name),
		BaseURL: strings.TrimSpace(req.BaseURL), Options: req.Options, Enabled: true,
		RequireUserPAT: req.RequireUserPAT, CreatedAt: s.now(), UpdatedAt: s.now(),
	}
	if req.Enabled != nil {
		in.Enabled = *req.Enabled
	}
	ev.IntegrationID = in.ID
	projects, err := s.checkIntegration(&in, req.Projects, req.Credential.IsZero())
	if err != nil {
		return relay.Integration{}, nil, s.fail(ctx, ev, nil, err)
	}
	in.Projects = projects
	if in.Repositories, err = checkRepositories(req.Repositories); err != nil {
		return relay.Integration{}, nil, s.fail(ctx, ev, nil, err)
	}
	acct, err := s.validateIntegrationCredential(ctx, in, req.Credential)
	if err != nil {
		return relay.Integration{}, nil, s.fail(ctx, ev, nil, err)
	}
	in.Account = acct
	sealed, err := relay.SealCredential(s.sealer, req.Credential, relay.IntegrationSecretOwner(in.TenantID, in.ID))
	if err != nil {
		return relay.Integration{}, nil, s.fail(ctx, ev, nil, err)
	}
	ev.Via, ev.Login = relay.ViaIntegration, acct.Login
	ev.Detail = fmt.Sprintf("created %s integration %q (require user PAT: %t; repositories: %s)",
		in.Kind, in.Name, in.RequireUserPAT, describeRepositories(in.Repositories))
	if err := s.store.CreateIntegration(ctx, in, sealed, s.succeed(ev)); err != nil {
		return relay.Integration{}, nil, s.fail(ctx, ev, nil, err)
	}
	return in, s.warnings(in), nil
}

// UpdateIntegration applies a patch. Ticking or unticking Require User PAT
// is audited as its own action.
//
// A change of the host the integration talks to (its origin, see
// relay.Hosts.Origin: kind, base URL, or options that move the endpoint)
// deletes every user's PAT for the integration in the same transaction,
// audited as token.dropped per user, who then see their token missing
// with the reason: a PAT is only ever sent to the host it was validated
// against.
func (s *Service) UpdateIntegration(ctx context.Context, p relay.Principal, id string, patch IntegrationPatch) (relay.Integration, []string, error) {
	ev := s.event(p, relay.ActionIntegrationUpdate, "", id)
	if err := requireAdmin(p); err != nil {
		return relay.Integration{}, nil, s.fail(ctx, ev, nil, err)
	}
	in, err := s.store.Integration(ctx, p.TenantID, id)
	if err != nil {
		return relay.Integration{}, nil, s.fail(ctx, ev, nil, err)
	}
	oldOrigin := s.hosts.Origin(in.HostConfig())
	var changed []string
	if patch.Kind != nil && *patch.Kind != in.Kind {
		in.Kind = *patch.Kind
		changed = append(changed, "kind")
	}
	// The audit records what changed, not what was sent: an Update
	// with nothing changed says so.
	if patch.Name != nil {
		if name := strings.TrimSpace(*patch.Name); name != in.Name {
			changed = append(changed, fmt.Sprintf("name from %q to %q", in.Name, name))
			in.Name = name
		}
	}
	if patch.BaseURL != nil {
		if u := strings.TrimSpace(*patch.BaseURL); u != in.BaseURL {
			in.BaseURL = u
			changed = append(changed, "base_url")
		}
	}
	if patch.Options != nil {
		if !maps.Equal(patch.Options, in.Options) {
			changed = append(changed, "options")
		}
		in.Options = patch.Options
	}
	if patch.Enabled != nil && *patch.Enabled != in.Enabled {
		in.Enabled = *patch.Enabled
		changed = append(changed, map[bool]string{true: "enabled", false: "disabled"}[in.Enabled])
	}
	if patch.RequireUserPAT != nil && *patch.RequireUserPAT != in.RequireUserPAT {
		in.RequireUserPAT = *patch.RequireUserPAT
		ev.Action = relay.ActionRequireUserPAT
		changed = append(changed, "Require User PAT "+map[bool]string{true: "on", false: "off"}[in.RequireUserPAT])
	}
	projects, oldProjects := in.Projects, in.Projects
	if patch.SetProjects {
		projects = patch.Projects
	}
	if patch.SetRepositories {
		repos, err := checkRepositories(patch.Repositories)
		if err != nil {
			return relay.Integration{}, nil, s.fail(ctx, ev, nil, err)
		}
		if (repos == nil) != (in.Repositories == nil) || !slices.Equal(repos, in.Repositories) {
			changed = append(changed, "repositories="+describeRepositories(repos))
		}
		in.Repositories = repos
	}
	var cred relay.Credential
	if patch.Credential != nil {
		cred = *patch.Credential
		changed = append(changed, "credential")
	}
	hostChanged := patch.BaseURL != nil || patch.Options != nil || slices.Contains(changed, "kind")
	if hostChanged && patch.Credential == nil {
		// The stored credential is never sent to a host it was not given
		// for: a mistyped (or hostile) URL must not receive it.
		return relay.Integration{}, nil, s.fail(ctx, ev, nil, &relay.Error{Code: relay.EInvalid,
			Message: "Changing the kind of host, the host URL or options needs the credential again, so that it is only ever sent to the host it is for.",
			Fields:  map[string]string{"credential": "Enter the credential again to change the host."}})
	}
	projects, err = s.checkIntegration(&in, projects, patch.Credential != nil && patch.Credential.IsZero())
	if err != nil {
		return relay.Integration{}, nil, s.fail(ctx, ev, nil, err)
	}
	if (projects == nil) != (oldProjects == nil) || !slices.Equal(projects, oldProjects) {
		changed = append(changed, "projects")
	}
	in.Projects = projects
	var sealed []byte
	if patch.Credential != nil || hostChanged {
		acct, err := s.validateIntegrationCredential(ctx, in, cred)
		if err != nil {
			return relay.Integration{}, nil, s.fail(ctx, ev, nil, err)
		}
		in.Account = acct
		if sealed, err = relay.SealCredential(s.sealer, cred, relay.IntegrationSecretOwner(in.TenantID, in.ID)); err != nil {
			return relay.Integration{}, nil, s.fail(ctx, ev, nil, err)
		}
	}
	in.UpdatedAt = s.now()
	ev.Detail = "changed " + strings.Join(changed, ", ")
	if len(changed) == 0 {
		ev.Detail = "no setting changed"
	}
	warnings := s.warnings(in)
	if newOrigin := s.hosts.Origin(in.HostConfig()); newOrigin != oldOrigin {
		ev.Detail += fmt.Sprintf("; the host moved from %s to %s, so every user's personal access token for it was deleted", oldOrigin, newOrigin)
		drop := relay.TokenDrop{
			Reason: fmt.Sprintf("The integration now points at another server (%s); save a new token.", newOrigin),
			Event: relay.AuditEvent{TenantID: in.TenantID, At: s.now(), Action: relay.ActionTokenDropped,
				IntegrationID: in.ID, Via: relay.ViaUserToken, Outcome: relay.OutcomeSuccess,
				Detail: fmt.Sprintf("%s changed the host of integration %s from %s to %s; the token, validated against the old host, was deleted.",
					p.Username, in.Name, oldOrigin, newOrigin)},
		}
		n, err := s.store.MoveIntegration(ctx, in, sealed, s.succeed(ev), drop)
		if err != nil {
			return relay.Integration{}, nil, s.fail(ctx, ev, nil, err)
		}
		if n > 0 {
			warnings = append(warnings, fmt.Sprintf(
				"The integration now points at another host: %d personal access tokens saved for the previous host were deleted, and their users were told to save new ones.", n))
		}
	} else if err := s.store.UpdateIntegration(ctx, in, sealed, s.succeed(ev)); err != nil {
		return relay.Integration{}, nil, s.fail(ctx, ev, nil, err)
	}
	if sealed != nil {
		// Another account or host may see other repositories: drop the
		// cached list, so the next search reads it with the new settings
		// rather than showing the old account's repositories.
		if err := s.store.ReplaceRepositories(ctx, in.TenantID, in.ID, nil, time.Time{}); err != nil {
			s.log.ErrorContext(ctx, "dropping the cached repositories of a changed integration", "integration", in.ID, "err", err)
		}
		s.repoSyncs.reset(in)
		if l, ok := s.store.(repositoryReadLeases); ok {
			if err := l.ForgetRepositoryReads(ctx, in.TenantID, in.ID); err != nil {
				s.log.ErrorContext(ctx, "letting the next read of a changed integration's repositories start at once", "integration", in.ID, "err", err)
			}
		}
	}
	return in, warnings, nil
}

// DeleteIntegration deletes an integration and every user's PAT for it.
func (s *Service) DeleteIntegration(ctx context.Context, p relay.Principal, id string) error {
	ev := s.event(p, relay.ActionIntegrationDelete, "", id)
	if err := requireAdmin(p); err != nil {
		return s.fail(ctx, ev, nil, err)
	}
	in, err := s.store.Integration(ctx, p.TenantID, id)
	if err != nil {
		return s.fail(ctx, ev, nil, err)
	}
	ev.Detail = fmt.Sprintf("deleted %s integration %q and its users' tokens", in.Kind, in.Name)
	if err := s.store.DeleteIntegration(ctx, p.TenantID, id, s.succeed(ev)); err != nil {
		return s.fail(ctx, ev, nil, err)
	}
	return nil
}

// Integrations lists the integrations p may see: all of them for an
// administrator, otherwise the enabled ones associated with a project on
// which p has View Development Tools.
func (s *Service) Integrations(ctx context.Context, p relay.Principal) ([]relay.Integration, error) {
	all, err := s.store.Integrations(ctx, p.TenantID)
	if err != nil || p.Admin {
		return all, err
	}
	projects, err := s.dir.DevToolsProjects(ctx, p)
	if err != nil {
		return nil, err
	}
	var out []relay.Integration
	for _, in := range all {
		if in.Enabled && visibleIn(in, projects) {
			out = append(out, in)
		}
	}
	return out, nil
}

// Integration returns one integration p may see; others are not_found.
func (s *Service) Integration(ctx context.Context, p relay.Principal, id string) (relay.Integration, error) {
	in, err := s.store.Integration(ctx, p.TenantID, id)
	if err != nil || p.Admin {
		return in, err
	}
	projects, err := s.dir.DevToolsProjects(ctx, p)
	if err != nil {
		return relay.Integration{}, err
	}
	if !in.Enabled || !visibleIn(in, projects) {
		return relay.Integration{}, relay.Errorf(relay.ENotFound, "Integration not found.")
	}
	return in, nil
}

// RepositoryCacheTTL is how long an integration's cached repository list
// answers searches before it is read from the host again. Listing can take
// dozens of host requests for accounts with thousands of repositories, so
// pickers must not do it per keystroke; five minutes keeps a repository
// created at the host from staying missing for long (a search that finds
// nothing, or refresh, reads the host at once).
const RepositoryCacheTTL = 5 * time.Minute

// Repository search limits: a picker shows a page of matches and narrows
// by typing, so answers are small by default; scripts may ask for more.
const (
	DefaultRepositoryLimit = 50
	MaxRepositoryLimit     = 500
)

// maxRememberedMisses bounds the queries remembered per integration as
// having found nothing since the last sync.
const maxRememberedMisses = 64

// MaxSearchQuery bounds the text of repository and branch searches, in
// characters: longer than any repository or branch name a picker looks
// for, short enough that no search is costly for the database or the host.
const MaxSearchQuery = 200

// MinRepositoryReadInterval is the least time between two full reads of
// one integration's repositories from the host. A read lists every
// repository with the integration account and can take dozens of
// requests: refresh=true and searches that find nothing must not let
// users spend the account's host rate limit. Within the interval they are
// answered from the stored list.
const MinRepositoryReadInterval = 30 * time.Second

// checkSearchQuery refuses search text longer than MaxSearchQuery.
func checkSearchQuery(q string) error {
	if n := utf8.RuneCountInString(q); n > MaxSearchQuery {
		msg := fmt.Sprintf("The search text is %d characters long; search with at most %d characters (part of the name is enough).", n, MaxSearchQuery)
		return &relay.Error{Code: relay.EInvalid, Message: msg, Fields: map[string]string{"q": msg}}
	}
	return nil
}

// RepositorySearch asks for an integration's repositories.
type RepositorySearch struct {
	// Query matches a substring of the full name, case-insensitively;
	// empty matches every repository.
	Query string
	// Limit caps the answer; 0 or less returns every match.
	Limit int
	// Refresh reads the list from the host even when the cached one is
	// younger than RepositoryCacheTTL.
	Refresh bool
	// Available (administrators only) lists every repository the
	// integration account can see, included or not: what an administrator
	// chooses the included ones from.
	Available bool
}

// Repositories lists every repository an integration includes whose full
// name contains query: all the integration account can see, or only the
// chosen ones among them. See SearchRepositories.
func (s *Service) Repositories(ctx context.Context, p relay.Principal, integrationID, query string) ([]relay.Repository, error) {
	return s.SearchRepositories(ctx, p, integrationID, RepositorySearch{Query: query})
}

// AvailableRepositories lists every repository the integration account can
// see whose full name contains query, included or not (administrators
// only). See SearchRepositories.
func (s *Service) AvailableRepositories(ctx context.Context, p relay.Principal, integrationID, query string) ([]relay.Repository, error) {
	return s.SearchRepositories(ctx, p, integrationID, RepositorySearch{Query: query, Available: true})
}

// SearchRepositories answers repository pickers from the integration's
// cached repository list, ordered by full name. The list is read from the
// host with the integration credential when it is older than
// RepositoryCacheTTL, when asked to (Refresh), or when a search finds
// nothing (the repository may have been created since); concurrent reads
// of one integration's list are collapsed into one. When the host fails
// and an older list exists, that list answers and a warning is logged, so
// that a slow or broken host does not break the picker.
func (s *Service) SearchRepositories(ctx context.Context, p relay.Principal, integrationID string, q RepositorySearch) ([]relay.Repository, error) {
	ctx, span := startSpan(ctx, "action.search_repositories")
	defer span.End()
	if err := checkSearchQuery(q.Query); err != nil {
		return nil, err
	}
	if q.Available {
		if err := requireAdmin(p); err != nil {
			return nil, err
		}
	}
	in, err := s.Integration(ctx, p, integrationID)
	if err != nil {
		return nil, err
	}
	subset := !q.Available && in.Repositories != nil
	storeLimit := q.Limit
	if subset {
		// The subset filters below: the store's limit would cut matches
		// before the filter sees them.
		storeLimit = 0
	}
	refreshed, err := s.syncRepositoriesIfStale(ctx, in, q.Refresh)
	if err != nil {
		return nil, err
	}
	repos, err := s.store.SearchRepositories(ctx, in.TenantID, in.ID, q.Query, storeLimit)
	if err != nil {
		return nil, err
	}
	if len(repos) == 0 && q.Query != "" && !refreshed && s.repoSyncs.worthRefreshing(in, q.Query) {
		if refreshed, err = s.syncRepositoriesNow(ctx, in); err != nil {
			return nil, err
		}
		if refreshed {
			if repos, err = s.store.SearchRepositories(ctx, in.TenantID, in.ID, q.Query, storeLimit); err != nil {
				return nil, err
			}
			// Remembered only after a read: a search answered from the
			// stored list because the host was read moments ago may find
			// the repository at the next read.
			if len(repos) == 0 {
				s.repoSyncs.missed(in, q.Query)
			}
		}
	}
	if !subset {
		return repos, nil
	}
	included := make([]relay.Repository, 0, min(len(repos), len(in.Repositories)))
	for _, r := range repos {
		if q.Limit > 0 && len(included) == q.Limit {
			break
		}
		if in.IncludesRepository(r.ID) {
			included = append(included, r)
		}
	}
	return included, nil
}

// syncRepositoriesIfStale reads the integration's repositories from the
// host unless the cached list is younger than RepositoryCacheTTL (and
// force is false). It reports whether the list was read now.
func (s *Service) syncRepositoriesIfStale(ctx context.Context, in relay.Integration, force bool) (bool, error) {
	if !force {
		at, err := s.store.RepositoriesSyncedAt(ctx, in.TenantID, in.ID)
		switch {
		case err == nil && s.now().Sub(at) < RepositoryCacheTTL:
			return false, nil
		case err != nil && relay.ErrorCode(err) != relay.ENotFound:
			return false, err
		}
	}
	return s.syncRepositoriesNow(ctx, in)
}

// syncRepositoriesNow reads the integration's repositories from the host
// and replaces the cached list, joining a read already under way for the
// same integration. Reads start at most once per
// MinRepositoryReadInterval per integration; within it, the cached list
// answers (reported false without error), or, when there is none yet,
// rate_limited says when to try again. When the host fails but a cached
// list exists, it logs a warning and reports false without error: the
// older list answers.
func (s *Service) syncRepositoriesNow(ctx context.Context, in relay.Integration) (bool, error) {
	err := s.repoSyncs.do(ctx, in, s.now, func() error { return s.syncRepositories(ctx, in) })
	if err == nil {
		return true, nil
	}
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	var leased readLeased
	if errors.As(err, &leased) {
		if _, serr := s.store.RepositoriesSyncedAt(ctx, in.TenantID, in.ID); serr == nil {
			return false, nil
		}
		return s.awaitRepositories(ctx, in, time.Duration(leased))
	}
	var recent readTooSoon
	if errors.As(err, &recent) {
		if _, serr := s.store.RepositoriesSyncedAt(ctx, in.TenantID, in.ID); serr == nil {
			return false, nil
		}
		return false, &relay.Error{Code: relay.ERateLimited, RetryAfter: time.Duration(recent),
			Message: fmt.Sprintf("gitrelay read this integration's repositories from the host moments ago; try again in %d seconds.",
				int(math.Ceil(time.Duration(recent).Seconds())))}
	}
	if _, serr := s.store.RepositoriesSyncedAt(ctx, in.TenantID, in.ID); serr != nil {
		return false, err
	}
	s.log.WarnContext(ctx, "reading repositories from the host failed; answering from the cached list",
		"integration", in.ID, "code", relay.ErrorCode(err), "message", relay.ErrorMessage(err))
	return false, nil
}

// repositoryPollInterval is how often a replica waiting for another's
// first read of a repository list looks whether it is stored.
const repositoryPollInterval = 200 * time.Millisecond

// awaitRepositories waits, at most until the lease ends, for the replica
// that holds the lease on reading the integration's list to store it: a
// replica with no list yet has nothing else to answer with. It reports
// true once the list is stored.
func (s *Service) awaitRepositories(ctx context.Context, in relay.Integration, lease time.Duration) (bool, error) {
	s.log.InfoContext(ctx, "waiting for another replica's read of an integration's repositories", "integration", in.ID)
	ctx, cancel := context.WithTimeout(ctx, lease)
	defer cancel()
	tick := time.NewTicker(repositoryPollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			if ctx.Err() == context.DeadlineExceeded {
				return false, &relay.Error{Code: relay.ERateLimited, RetryAfter: MinRepositoryReadInterval,
					Message: fmt.Sprintf("gitrelay is reading this integration's repositories from the host; try again in %d seconds.", int(MinRepositoryReadInterval.Seconds()))}
			}
			return false, ctx.Err()
		case <-tick.C:
		}
		_, err := s.store.RepositoriesSyncedAt(ctx, in.TenantID, in.ID)
		switch {
		case err == nil:
			return true, nil
		case relay.ErrorCode(err) != relay.ENotFound && ctx.Err() == nil:
			return false, err
		}
	}
}

// RepositoryListingTimeout bounds reading an integration's whole
// repository list. The list takes one request per page (a hundred
// repositories or so), each bounded by the host timeout in the outbound
// client; bounding all of them by one host timeout made large accounts
// unlistable whenever the host or gitrelay was slow.
const RepositoryListingTimeout = 5 * time.Minute

// repositoryReadLeases spaces and leases full reads of an integration's
// repository list across every replica serving one database (the database
// store): one replica reads the host, the others answer from the stored
// list. Stores without it serve one process, which repositorySyncs covers.
type repositoryReadLeases interface {
	TakeRepositoryRead(ctx context.Context, tenantID, integrationID, owner string, now time.Time, minInterval, lease time.Duration) (taken, leased bool, wait time.Duration, err error)
	EndRepositoryRead(ctx context.Context, tenantID, integrationID, owner string) error
	ForgetRepositoryReads(ctx context.Context, tenantID, integrationID string) error
}

// syncRepositories lists every repository the integration account can see
// and replaces the cached list, unless another replica read it less than
// MinRepositoryReadInterval ago or is reading it now (readTooSoon). The
// read is shared by every request waiting for it, so it does not end when
// the request that started it is cancelled; RepositoryListingTimeout still
// bounds it, and a replica that dies while reading holds the lease no
// longer than that.
func (s *Service) syncRepositories(ctx context.Context, in relay.Integration) error {
	ctx = context.WithoutCancel(ctx)
	client, err := s.integrationClient(ctx, in)
	if err != nil {
		return err
	}
	started := s.now()
	listing := max(RepositoryListingTimeout, s.hostTimeout)
	if l, ok := s.store.(repositoryReadLeases); ok {
		taken, leased, wait, err := l.TakeRepositoryRead(ctx, in.TenantID, in.ID, s.replica, started, MinRepositoryReadInterval, listing)
		switch {
		case err != nil:
			return err
		case leased:
			return readLeased(wait)
		case !taken:
			return readTooSoon(wait)
		}
		defer func() {
			if err := l.EndRepositoryRead(ctx, in.TenantID, in.ID, s.replica); err != nil {
				s.log.ErrorContext(ctx, "releasing the lease on reading an integration's repositories", "integration", in.ID, "err", err)
			}
		}()
	}
	hctx, cancel := context.WithTimeout(ctx, listing)
	defer cancel()
	repos, err := client.Repositories(hctx, "")
	if err != nil {
		return s.readError(err)
	}
	if err := s.store.ReplaceRepositories(ctx, in.TenantID, in.ID, repos, started); err != nil {
		return err
	}
	s.repoSyncs.synced(in)
	return nil
}

// repositorySyncs collapses concurrent reads of one integration's
// repositories into one, and remembers which searches found nothing since
// the last read, so that typing a name that does not exist reads the host
// once rather than per keystroke. The zero value is ready to use.
type repositorySyncs struct {
	mu       sync.Mutex
	inFlight map[string]*repositorySync
	misses   map[string][]string
	// started is when the last read of each integration's list started
	// in this process, for MinRepositoryReadInterval; the store's lease
	// (repositoryReadLeases) spaces reads across replicas.
	started map[string]time.Time
}

// readTooSoon: a read started less than MinRepositoryReadInterval ago;
// the value is how long until the next may start.
type readTooSoon time.Duration

func (readTooSoon) Error() string { return "the repositories were read from the host moments ago" }

// readLeased: another replica is reading the list now; the value is how
// long its lease lasts at most.
type readLeased time.Duration

func (readLeased) Error() string { return "another replica is reading the repositories from the host" }

type repositorySync struct {
	done chan struct{}
	err  error
}

func repositorySyncKey(in relay.Integration) string { return in.TenantID + "\x00" + in.ID }

// do runs sync unless one is under way for the integration, in which case
// it waits for that one and returns its result, or one started less than
// MinRepositoryReadInterval ago (by the clock now), in which case it
// returns readTooSoon.
func (r *repositorySyncs) do(ctx context.Context, in relay.Integration, now func() time.Time, sync func() error) error {
	key := repositorySyncKey(in)
	r.mu.Lock()
	if c, ok := r.inFlight[key]; ok {
		r.mu.Unlock()
		select {
		case <-c.done:
			return c.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	t := now()
	if last, ok := r.started[key]; ok {
		if wait := last.Add(MinRepositoryReadInterval).Sub(t); wait > 0 {
			r.mu.Unlock()
			return readTooSoon(wait)
		}
	}
	if r.inFlight == nil {
		r.inFlight = map[string]*repositorySync{}
	}
	if r.started == nil {
		r.started = map[string]time.Time{}
	}
	r.started[key] = t
	c := &repositorySync{done: make(chan struct{})}
	r.inFlight[key] = c
	r.mu.Unlock()

	defer func() {
		r.mu.Lock()
		delete(r.inFlight, key)
		r.mu.Unlock()
		close(c.done)
	}()
	c.err = sync()
	return c.err
}

// worthRefreshing reports whether a search for query that found nothing
// should read the host: not when a query it contains already found
// nothing since the last read (nothing can match the longer one either).
func (r *repositorySyncs) worthRefreshing(in relay.Integration, query string) bool {
	query = strings.ToLower(query)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.misses[repositorySyncKey(in)] {
		if strings.Contains(query, m) {
			return false
		}
	}
	return true
}

// missed remembers that query found nothing even after a read.
func (r *repositorySyncs) missed(in relay.Integration, query string) {
	key := repositorySyncKey(in)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.misses == nil {
		r.misses = map[string][]string{}
	}
	if len(r.misses[key]) < maxRememberedMisses {
		r.misses[key] = append(r.misses[key], strings.ToLower(query))
	}
}

// reset forgets the integration's reads: its settings changed, so the
// next search may read its list at once.
func (r *repositorySyncs) reset(in relay.Integration) {
	key := repositorySyncKey(in)
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.misses, key)
	delete(r.started, key)
}

// synced forgets the misses: the new list may have what they looked for.
func (r *repositorySyncs) synced(in relay.Integration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.misses, repositorySyncKey(in))
}

// Branches lists branches of a repository, read with the integration
// account.
func (s *Service) Branches(ctx context.Context, p relay.Principal, integrationID, repositoryID, query string) ([]relay.Branch, error) {
	ctx, span := startSpan(ctx, "action.list_branches")
	defer span.End()
	if err := checkSearchQuery(query); err != nil {
		return nil, err
	}
	in, client, err := s.readClient(ctx, p, integrationID)
	if err != nil {
		return nil, err
	}
	if err := notIncluded(in, repositoryID, ""); err != nil {
		return nil, err
	}
	hctx, cancel := context.WithTimeout(ctx, s.hostTimeout)
	defer cancel()
	repo, err := client.Repository(hctx, repositoryID)
	if err != nil {
		return nil, s.readError(err)
	}
	if err := notIncluded(in, repo.ID, repo.FullName); err != nil {
		return nil, err
	}
	branches, err := client.Branches(hctx, repo, query)
	if err != nil {
		return nil, s.readError(err)
	}
	return branches, nil
}

func (s *Service) readClient(ctx context.Context, p relay.Principal, integrationID string) (relay.Integration, relay.HostClient, error) {
	in, err := s.Integration(ctx, p, integrationID)
	if err != nil {
		return relay.Integration{}, nil, err
	}
	client, err := s.integrationClient(ctx, in)
	return in, client, err
}

// integrationClient is a host client acting as the integration account.
func (s *Service) integrationClient(ctx context.Context, in relay.Integration) (relay.HostClient, error) {
	sealed, err := s.store.IntegrationCredential(ctx, in.TenantID, in.ID)
	if err != nil {
		return nil, err
	}
	cred, err := relay.OpenCredential(s.sealer, sealed, relay.IntegrationSecretOwner(in.TenantID, in.ID))
	if err != nil {
		return nil, err
	}
	return s.hosts.Client(in.HostConfig(), cred)
}

// notIncluded refuses a repository the integration does not include. name
// is the repository's full name when known (after the host was asked),
// otherwise the id the request gave is shown.
func notIncluded(in relay.Integration, repositoryID, name string) error {
	if in.IncludesRepository(repositoryID) || (repositoryID == "" && name == "") {
		// Nothing named yet: the check runs again on the id the host
		// answers with.
		return nil
	}
	what := "Repository " + name
	if name == "" {
		what = fmt.Sprintf("The repository with id %q", repositoryID)
	}
	return relay.Errorf(relay.EForbidden,
		"%s is not included in integration %s. An administrator can include the repository in the integration's settings.", what, in.Name)
}

// checkRepositories validates and normalises chosen repository ids: nil
// stays nil (every repository), blanks are refused, duplicates dropped and
// the administrator's order kept.
func checkRepositories(ids []string) ([]string, error) {
	if ids == nil {
		return nil, nil
	}
	fields := map[string]string{}
	out := make([]string, 0, len(ids))
	seen := make(map[string]bool, len(ids))
	for i, id := range ids {
		id = strings.TrimSpace(id)
		switch {
		case id == "":
			fields["repositories"] = fmt.Sprintf("Repository %d of the list has an empty id.", i+1)
		case len(id) > maxRepositoryID:
			fields["repositories"] = fmt.Sprintf("Repository %d of the list has an id longer than %d characters.", i+1, maxRepositoryID)
		case !seen[id]:
			seen[id] = true
			out = append(out, id)
		}
	}
	if len(out) > MaxRepositories {
		fields["repositories"] = fmt.Sprintf("An integration can include at most %d chosen repositories (got %d). Choose fewer, or include all repositories.", MaxRepositories, len(out))
	}
	if len(fields) > 0 {
		return nil, &relay.Error{Code: relay.EInvalid, Message: "The chosen repositories are invalid.", Fields: fields}
	}
	return out, nil
}

// describeRepositories says in the audit trail what an integration
// includes.
func describeRepositories(ids []string) string {
	if ids == nil {
		return "all"
	}
	return fmt.Sprintf("%d chosen", len(ids))
}

// CheckConnection asks the host, now, who the integration credential
// authenticates as (administrators only): what "Test connection" and the
// integrations table's health show. It never answers from the repository
// cache, so a revoked credential shows at once.
func (s *Service) CheckConnection(ctx context.Context, p relay.Principal, integrationID string) (relay.Account, error) {
	ctx, span := startSpan(ctx, "action.check_connection")
	defer span.End()
	if err := requireAdmin(p); err != nil {
		return relay.Account{}, err
	}
	_, client, err := s.readClient(ctx, p, integrationID)
	if err != nil {
		return relay.Account{}, err
	}
	hctx, cancel := context.WithTimeout(ctx, s.hostTimeout)
	defer cancel()
	acct, err := client.Validate(hctx)
	if err != nil {
		return relay.Account{}, s.readError(err)
	}
	return acct, nil
}

// readError explains a refused integration credential on reads.
func (s *Service) readError(err error) error {
	switch relay.ErrorCode(err) {
	case relay.ECredentialRejected, relay.EScopeMissing:
		return &relay.Error{Code: relay.EHostError, Err: err,
			Message: "The host refused the integration account's credential. An administrator must update it in the integration's settings."}
	}
	return err
}

// checkIntegration validates an integration's fields and normalises its host
// settings and project list.
func (s *Service) checkIntegration(in *relay.Integration, projects []string, credentialMissing bool) ([]string, error) {
	fields := map[string]string{}
	if in.Name == "" {
		fields["name"] = "A display name is required."
	} else if len(in.Name) > 100 {
		fields["name"] = "The display name must be at most 100 characters."
	}
	if credentialMissing {
		fields["credential"] = "A credential is required: the integration account's personal access token (or the fields your host kind needs)."
	}
	cfg, err := s.hosts.CheckConfig(in.HostConfig())
	if e, ok := relay.AsError(err); ok && e.Code == relay.EInvalid {
		for k, v := range e.Fields {
			fields[k] = v
		}
		if len(e.Fields) == 0 {
			fields["kind"] = e.Message
		}
	} else if err != nil {
		return nil, err
	}
	in.BaseURL, in.Options = cfg.BaseURL, cfg.Options
	var out []string
	if projects != nil {
		out = []string{}
		seen := map[string]bool{}
		for _, k := range projects {
			k = strings.ToUpper(strings.TrimSpace(k))
			if !validProjectKey(k) {
				fields["projects"] = fmt.Sprintf("%q is not a project key (a letter, then letters, digits or _).", k)
				continue
			}
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
		sort.Strings(out)
	}
	if len(fields) > 0 {
		return nil, &relay.Error{Code: relay.EInvalid, Message: "The integration settings are incomplete or invalid.", Fields: fields}
	}
	return out, nil
}

// validateIntegrationCredential asks the host who the credential is and
// whether it can do the job.
func (s *Service) validateIntegrationCredential(ctx context.Context, in relay.Integration, cred relay.Credential) (relay.Account, error) {
	hctx, cancel := context.WithTimeout(ctx, s.hostTimeout)
	defer cancel()
	var acct relay.Account
	client, err := s.hosts.Client(in.HostConfig(), cred)
	if err == nil {
		acct, err = client.Validate(hctx)
	}
	switch relay.ErrorCode(err) {
	case "":
	case relay.ECredentialRejected:
		return relay.Account{}, &relay.Error{Code: relay.ETokenInvalid, Err: err,
			Message: "The host rejected the integration credential (invalid, expired or revoked). Check it and the host URL, then try again."}
	case relay.EScopeMissing:
		e, _ := relay.AsError(err)
		return relay.Account{}, &relay.Error{Code: relay.ETokenInsufficientScope, Scope: e.Scope, Err: err,
			Message: "The integration credential lacks a permission gitrelay needs" + scopeSuffix(e.Scope) + ". " + s.hosts.Capabilities(in.HostConfig()).TokenHelp}
	default:
		return relay.Account{}, err
	}
	caps := s.hosts.Capabilities(in.HostConfig())
	if acct.ExpiresAt != nil && !s.now().Before(*acct.ExpiresAt) {
		return relay.Account{}, relay.Errorf(relay.ETokenExpired, "The integration credential has expired. Create a new one and try again.")
	}
	if missing := relay.MissingScope(caps.RequiredScopes, acct.Scopes); missing != "" {
		return relay.Account{}, &relay.Error{Code: relay.ETokenInsufficientScope, Scope: missing,
			Message: fmt.Sprintf("The integration credential lacks the %s scope. %s", missing, caps.TokenHelp)}
	}
	return acct, nil
}

func (s *Service) warnings(in relay.Integration) []string {
	if in.RequireUserPAT && !s.hosts.Capabilities(in.HostConfig()).PAT {
		return []string{"This server version has no personal access tokens: with Require User PAT ticked, creating and deleting branches and creating pull requests will be refused for " + in.Name + "."}
	}
	return nil
}

func visibleIn(in relay.Integration, projects []string) bool {
	if len(projects) == 0 {
		return false
	}
	for _, k := range projects {
		if in.AssociatedWith(k) {
			return true
		}
	}
	return false
}

func validProjectKey(k string) bool {
	if k == "" || len(k) > 255 || k[0] < 'A' || k[0] > 'Z' {
		return false
	}
	for _, r := range k {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}
