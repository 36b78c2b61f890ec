package app

// RegisterHostJobs lets tests run the token checks and repository
// refreshes on a runner of their own.
var RegisterHostJobs = registerHostJobs
