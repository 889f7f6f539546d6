// Must NOT compile: `search_customers` needs `q`, a string.
import { createClient } from "@supabase/supabase-js"
import type { Database } from "../database.types"

const supabase = createClient<Database>("http://localhost:54321", "anon-key")
await supabase.rpc("search_customers", { q: 1 })
