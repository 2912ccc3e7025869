package console

// Bounds of the console.
const (
	// DefaultMaxSessions is Options.MaxSessions when it is 0.
	DefaultMaxSessions = 4096
	// pageSize is how many rows a list page shows.
	pageSize = 50
	// sampleSize is how many credentials a bulk preview shows.
	sampleSize = 10
	// historySize bounds the audit entries a credential's page shows.
	historySize = 200
	// chartDays is how many days the dashboard charts.
	chartDays = 30
	// maxFormBytes bounds a posted form.
	maxFormBytes = 64 << 10
)
