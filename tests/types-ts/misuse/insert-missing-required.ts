// Must NOT compile: `email` is required on insert.
import { createClient } from "@supabase/supabase-js"
import type { Database } from "../database.types"

const supabase = createClient<Database>("http://localhost:54321", "anon-key")
await supabase.from("customers").insert({ name: "x" })
