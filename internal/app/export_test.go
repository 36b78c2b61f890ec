package app

// RegisterHostJobs lets tests run the token checks and repository
// refreshes on a runner of their own.
var RegisterHostJobs = registerHostJobs

// WakeHolders lets tests hand the due repositories a replica may not read
// to their holders, as a poll job of the shared queue does at its end.
var WakeHolders = wakeHolders
