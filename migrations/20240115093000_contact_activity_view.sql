-- One row per contact with their deal totals; used by the dashboard.
CREATE VIEW contact_activity AS
SELECT c.id,
       c.full_name,
       c.status,
       count(d.id)                       AS deal_count,
       coalesce(sum(d.amount), 0)        AS pipeline_value,
       max(d.created_at)                 AS last_deal_at
FROM contacts c
LEFT JOIN deals d ON d.contact_id = c.id
GROUP BY c.id;
