package hostsim

// due counts a matching request and says whether the fault applies to it:
// always, or to every Every-th one. The caller holds the Sim's lock.
func (f *fault) due() bool {
	f.seen++
	return f.Every <= 1 || f.seen%f.Every == 0
}
