// Must NOT compile: `customers.id` is GENERATED ALWAYS AS IDENTITY.
import { createClient } from "@supabase/supabase-js"
import type { Database } from "../database.types"

const supabase = createClient<Database>("http://localhost:54321", "anon-key")
await supabase.from("customers").insert({ id: 1, email: "a@b.c" })
