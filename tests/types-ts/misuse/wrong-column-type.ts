// Must NOT compile: `qty` is a number.
import { createClient } from "@supabase/supabase-js"
import type { Database } from "../database.types"

const supabase = createClient<Database>("http://localhost:54321", "anon-key")
await supabase.from("orders").update({ qty: "three" }).eq("id", 1)
