package console

// Bounds of the console.
const (
	// maxSessions bounds the live sessions of one process; sign-in is
	// refused while that many are live.
	maxSessions = 4096
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
