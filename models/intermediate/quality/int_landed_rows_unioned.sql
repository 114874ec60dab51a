with

treatment_versions as (
    select * from {{ ref('stg_dynamo__treatment_versions') }}
),

adt_events_checked as (
    select * from {{ ref('int_adt_events_checked') }}
),

department_extract_rows as (
    select * from {{ ref('stg_departments__extract_rows') }}
),

ehr_documents as (
    select * from {{ ref('stg_ehr__documents') }}
),

claim_versions as (
    select * from {{ ref('stg_claims__claim_versions') }}
),

prescription_fills as (
    select * from {{ ref('stg_fills__prescription_fills') }}
),

-- `source` is a keyword, but it is the column name the data-quality marts publish (noqa: RF04)
landed_rows_unioned as (
    select
        'dynamo_treatments' as source,  -- noqa: RF04
        load_id,
        loaded_at,
        data_file as source_file,
        export_id || ':' || data_file as file_key,
        line_number,
        reject_rule
    from treatment_versions
    union all
    select
        'adt_events' as source,  -- noqa: RF04
        load_id,
        loaded_at,
        source_file,
        file_md5 as file_key,
        line_number,
        reject_rule
    from adt_events_checked
    union all
    select
        'department_extracts' as source,  -- noqa: RF04
        load_id,
        loaded_at,
        source_file,
        file_md5 as file_key,
        line_number,
        reject_rule
    from department_extract_rows
    union all
    select
        'ehr_documents' as source,  -- noqa: RF04
        load_id,
        loaded_at,
        source_file,
        file_md5 as file_key,
        line_number,
        reject_rule
    from ehr_documents
    union all
    -- every claim version is judged on its own: a superseded accepted version is accepted
    select
        'claims' as source,  -- noqa: RF04
        load_id,
        loaded_at,
        source_file,
        file_md5 as file_key,
        line_number,
        reject_rule
    from claim_versions
    union all
    select
        'prescription_fills' as source,  -- noqa: RF04
        load_id,
        loaded_at,
        source_file,
        file_md5 as file_key,
        line_number,
        reject_rule
    from prescription_fills
)

select * from landed_rows_unioned
