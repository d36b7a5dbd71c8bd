package main

import "github.com/neko-defense/neko/server"

// warmQueries are the dashboard's statistics panels, kept in the response cache by the server
// together with every REST endpoint the TV monitors poll (issue: warm TV monitors). Clients that
// send these documents, byte for byte, get a warm answer; others warm their own on first use.
var warmQueries = []server.WarmQuery{
	{Name: "threatCounts", Query: `{ threatCounts { all predators pedophiles dina_network ransomware state_sponsored crypto_crime } }`},
	{Name: "honeypotSummary", Query: `{ honeypotSummary { total_triggers unique_ips unique_traps most_active_trap { trap_name trigger_count last_triggered unique_ips } trap_stats { trap_name trigger_count last_triggered unique_ips } } }`},
	{Name: "huntStats", Query: `{ huntStats { total_hunts active_hunts completed_hunts successful_captures recent_targets top_keywords } }`},
	{Name: "casePatternStats", Query: `{ casePatternStats { total_patterns high_reusability top_categories most_used { pattern_id title usage_count } } }`},
	{Name: "getDINAStatistics", Query: `{ getDINAStatistics { total_agents verified_count pending_count by_category { category count } by_legal_status { status count } by_region { region count } by_brigade { brigade count } } }`},
	{Name: "dinaStats", Query: `{ dinaStats { total_documents perpetrators { total convicted unprosecuted total_known_agents } torture_centers international_crimes victims_estimated disappeared executed last_updated } }`},
}
