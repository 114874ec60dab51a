{#- Post-hook of the gold models and the bi views (all-or-nothing gold refresh, see begin_gold_refresh): dbt has
    just renamed the model's previous relation to <name>__dbt_backup and will drop it after
    the commit; move it into the holding schema instead (in the model's own transaction), or
    note that the model had no previous relation. -#}
{% macro keep_previous_version() -%}
    {%- if execute -%}
        {%- set holding = adapter.quote(var('previous_versions_schema')) -%}
        {%- set kept_name = previous_version_name(this.schema, this.identifier) -%}
        {%- set full_backup = make_backup_relation(this.incorporate(type='table'), 'table') -%}
        {%- set backup = full_backup.include(database=false) -%}
        {#- dbt's relation cache would drop the backup after the commit, and with it every view
            that depends on it (a bi view over a gold table): it moves with the relation -#}
        {%- do adapter.cache_renamed(full_backup, full_backup.incorporate(
            path={'schema': var('previous_versions_schema'), 'identifier': kept_name})) -%}
        do $keep_previous_version$
        begin
            if to_regclass('{{ backup }}') is not null then
                alter table {{ backup }} set schema {{ holding }};
                alter table {{ holding }}.{{ adapter.quote(backup.identifier) }}
                    rename to {{ adapter.quote(kept_name) }};
                insert into {{ holding }}.build_ledger (
                    relation_schema, relation_name, schema_oid, previous_version, invocation_id
                )
                values (
                    '{{ this.schema }}', '{{ this.identifier }}', to_regnamespace('{{ this.schema }}'),
                    'moved', '{{ invocation_id }}'
                );
            else
                -- an incremental model changed in place was copied by copy_previous_version
                insert into {{ holding }}.build_ledger (
                    relation_schema, relation_name, schema_oid, previous_version, invocation_id
                )
                values (
                    '{{ this.schema }}', '{{ this.identifier }}', to_regnamespace('{{ this.schema }}'),
                    'none', '{{ invocation_id }}'
                )
                on conflict (relation_schema, relation_name) do nothing;
            end if;
        end
        $keep_previous_version$
    {%- endif -%}
{%- endmacro %}
