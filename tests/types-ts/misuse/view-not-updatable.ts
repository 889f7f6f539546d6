// Must NOT compile: the view `order_totals` cannot be written.
import { createClient } from "@supabase/supabase-js"
import type { Database } from "../database.types"

const supabase = createClient<Database>("http://localhost:54321", "anon-key")
await supabase.from("order_totals").insert({ n: 1 })
