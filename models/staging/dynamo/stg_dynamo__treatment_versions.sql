{#-
    Incremental: a run decodes only the bronze lines of loads it has not staged yet (found in the
    small load audit; bronze is read through its primary key, which starts with export_id), then ranks
    them together with the staged versions of the same treatments; those are replaced (delete+
    insert on the line's key) with their is_latest_version recomputed. Nothing else is touched.
-#}
{{
    config(
        materialized='incremental',
        unique_key=['export_id', 'data_file', 'line_number'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        post_hook=[
            "create unique index if not exists {{ this.identifier }}_line_idx
                on {{ this }} (export_id, data_file, line_number)",
            "create index if not exists {{ this.identifier }}_treatment_id_idx on {{ this }} (treatment_id)",
            "create index if not exists {{ this.identifier }}_load_id_idx on {{ this }} (load_id)",
        ],
    )
}}

{#- the columns of a staged version, in table order (is_latest_version and reject_rule follow) -#}
{%- set version_columns = [
    'export_id',
    'data_file',
    'line_number',
    'load_id',
    'loaded_at',
    'treatment_id',
    'patient_id',
    'patient_first_name',
    'patient_last_name',
    'patient_gender',
    'patient_date_of_birth',
    'patient_city',
    'patient_state',
    'patient_zip',
    'provider_id',
    'provider_name',
    'provider_specialty',
    'provider_hospital_id',
    'provider_city',
    'provider_state',
    'disease_code',
    'disease_name',
    'treatment_type',
    'outcome_status_raw',
    'outcome_status',
    'cost',
    'cost_raw',
    'is_cost_invalid',
    'treatment_ts_raw',
    'treated_at',
    'modified_at',
    'medication_count',
    'medications',
    'is_emergency',
    'notes'
] %}

with

{% if is_incremental() %}

    loads_to_stage as (
        select
            load_audit.load_id,
            load_audit.export_id
        from {{ source('loader', 'load_audit') }} as load_audit
        where
            load_audit.source = 'dynamo_treatments'
            and load_audit.status = 'loaded'
            and not exists (
                select from {{ this }} as staged
                where staged.load_id = load_audit.load_id
            )
    ),

{% endif %}

treatments_source as (
    select * from {{ source('dynamo', 'treatments') }}
    {% if is_incremental() %}
        -- an export is landed by one load: its lines are found through the primary key
        where (export_id, load_id) in (
            select
                loads_to_stage.export_id,
                loads_to_stage.load_id
            from loads_to_stage
        )
    {% endif %}
),

gender_map as (
    select * from {{ ref('gender_map') }}
),

outcome_status_map as (
    select * from {{ ref('outcome_status_map') }}
),

items_unwrapped as (
    select
        treatments_source.export_id,
        treatments_source.data_file,
        treatments_source.line_number,
        treatments_source.load_id,
        treatments_source.loaded_at,
        unwrapped.attributes
    from treatments_source
    -- evaluated once per line (a column of the source would be re-evaluated for every use)
    cross join lateral (values ({{ dynamo_item('item') }})) as unwrapped (attributes)
),

-- materialized: the steps below use each extracted text several times; inlined, PostgreSQL
-- would repeat the JSON extraction for every use
attributes_decoded as materialized (
    select
        export_id,
        data_file,
        line_number,
        load_id,
        loaded_at,
        {{ dynamo_text('attributes', ['treatment_id']) }} as treatment_id,
        {{ dynamo_text('attributes', ['patient', 'patient_id']) }} as patient_id,
        {{ dynamo_text('attributes', ['patient', 'first_name']) }} as patient_first_name,
        {{ dynamo_text('attributes', ['patient', 'last_name']) }} as patient_last_name,
        {{ dynamo_text('attributes', ['patient', 'gender']) }} as patient_gender_text,
        {{ dynamo_text('attributes', ['patient', 'date_of_birth']) }} as patient_date_of_birth_text,
        {{ dynamo_text('attributes', ['patient', 'city']) }} as patient_city,
        {{ dynamo_text('attributes', ['patient', 'state']) }} as patient_state,
        {{ dynamo_text('attributes', ['patient', 'zip']) }} as patient_zip,
        {{ dynamo_text('attributes', ['provider', 'provider_id']) }} as provider_id,
        {{ dynamo_text('attributes', ['provider', 'name']) }} as provider_name,
        {{ dynamo_text('attributes', ['provider', 'specialty']) }} as provider_specialty,
        {{ dynamo_text('attributes', ['provider', 'hospital_id']) }} as provider_hospital_id,
        {{ dynamo_text('attributes', ['provider', 'city']) }} as provider_city,
        {{ dynamo_text('attributes', ['provider', 'state']) }} as provider_state,
        upper({{ dynamo_text('attributes', ['disease', 'code']) }}) as disease_code,
        {{ dynamo_text('attributes', ['disease', 'name']) }} as disease_name,
        {{ dynamo_text('attributes', ['treatment_type']) }} as treatment_type,
        {{ dynamo_raw_text('attributes', ['outcome_status']) }} as outcome_status_raw,
        {{ dynamo_raw_text('attributes', ['cost']) }} as cost_raw,
        {{ dynamo_cost_text('attributes', ['cost']) }} as cost_text,
        {{ dynamo_raw_text('attributes', ['treatment_ts']) }} as treatment_ts_raw,
        {{ dynamo_raw_text('attributes', ['metadata_modified_at']) }} as modified_at_raw,
        {{ dynamo_list_length('attributes', ['medications']) }} as medication_count,
        {{ dynamo_map_list('attributes', ['medications'], {'name': 'text', 'dose_mg': 'number'}) }} as medications,
        {{ dynamo_boolean('attributes', ['is_emergency']) }} as is_emergency,
        {{ dynamo_text('attributes', ['notes']) }} as notes
    from items_unwrapped
),

-- cost: the candidate text parsed to a number once, then checked and rounded to cents
costs_parsed as (
    select
        attributes_decoded.*,
        cost_in_cents.cost
    from attributes_decoded
    cross join
        lateral (
            values ({{ safe_numeric('attributes_decoded.cost_text') }})
        ) as cost_number (amount)
    cross join
        lateral (
            values ({{ to_money('cost_number.amount') }})
        ) as cost_in_cents (cost)
),

-- materialized: the reject rule and the ranking use each parsed timestamp several times
values_parsed as materialized (
    select
        export_id,
        data_file,
        line_number,
        load_id,
        loaded_at,
        treatment_id,
        patient_id,
        patient_first_name,
        patient_last_name,
        patient_gender_text,
        {{ safe_date('patient_date_of_birth_text') }} as patient_date_of_birth,
        patient_city,
        patient_state,
        patient_zip,
        provider_id,
        provider_name,
        provider_specialty,
        provider_hospital_id,
        provider_city,
        provider_state,
        disease_code,
        disease_name,
        treatment_type,
        outcome_status_raw,
        cost,
        cost_raw,
        treatment_ts_raw,
        {{ safe_timestamptz('treatment_ts_raw') }} as treated_at,
        {{ safe_timestamptz('modified_at_raw') }} as modified_at,
        medication_count,
        medications,
        is_emergency,
        notes
    from costs_parsed
),

categories_mapped as (
    select
        values_parsed.*,
        outcome_status_map.outcome_status,
        coalesce(gender_map.gender, 'unknown') as patient_gender,
        values_parsed.cost_raw is not null and values_parsed.cost is null as is_cost_invalid
    from values_parsed
    left join gender_map
        on lower(values_parsed.patient_gender_text) = gender_map.gender_raw
    left join outcome_status_map
        on lower(btrim(values_parsed.outcome_status_raw)) = outcome_status_map.outcome_status_raw
),

versions_checked as (
    select
        *,
        case
            when treatment_id is null then 'missing_treatment_id'
            when patient_id is null then 'missing_patient_id'
            when provider_id is null then 'missing_provider_id'
            when modified_at is null then 'invalid_modified_at'
            when treated_at is null then 'invalid_treatment_ts'
            when treated_at > modified_at then 'treatment_ts_after_modified_at'
            when outcome_status is null then 'unknown_outcome'
        end as reject_rule
    from categories_mapped
),

-- the new lines and, in an incremental run, the staged versions of the treatments they bring:
-- ranked again together
versions_to_rank as (
    select
        {{ version_columns | join(',\n        ') }},
        reject_rule
    from versions_checked
    {%- if is_incremental() %}
        union all
        select
            staged.{{ version_columns | join(',\n            staged.') }},
            staged.reject_rule
        from {{ this }} as staged
        where staged.treatment_id in (select versions_checked.treatment_id from versions_checked)
    {%- endif %}
),

versions_ranked as (
    select
        *,
        -- a line without treatment_id matches no other line: it is its own latest version
        treatment_id is null or row_number() over (
            partition by treatment_id
            order by
                modified_at desc nulls last,
                loaded_at desc,
                data_file desc,
                line_number desc
        ) = 1 as is_latest_version
    from versions_to_rank
),

versions_final as (
    select
        {{ version_columns | join(',\n        ') }},
        is_latest_version,
        reject_rule
    from versions_ranked
)

select * from versions_final
