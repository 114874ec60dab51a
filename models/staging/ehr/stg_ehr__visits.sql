with

documents as (
    select * from {{ ref('stg_ehr__documents') }}
),

visit_type_map as (
    select * from {{ ref('visit_type_map') }}
),

-- the visits of each patient's latest accepted document, in array order
visits_unnested as (
    select
        documents.load_id,
        documents.source_file,
        documents.file_md5,
        documents.line_number,
        documents.patient_id,
        cast(visit_elements.visit_ordinal as integer) as visit_ordinal,
        visit_elements.visit
    from documents
    cross join
        lateral jsonb_array_elements(documents.visits) with ordinality as visit_elements (visit, visit_ordinal)
    where documents.is_latest_document
),

-- materialized: the steps below use each extracted text several times; inlined, PostgreSQL
-- would repeat the JSON extraction for every use
visits_decoded as materialized (
    select
        load_id,
        source_file,
        file_md5,
        line_number,
        patient_id,
        visit_ordinal,
        visit,
        {{ json_text('visit', 'visit_id') }} as visit_id,
        {{ json_text('visit', 'visit_date') }} as visit_date_text,
        {{ json_text('visit', 'discharge_date') }} as discharge_date_text,
        visit ->> 'visit_type' as visit_type_raw,
        {{ json_text('visit', 'provider_id') }} as provider_id
    from visits_unnested
),

visits_parsed as (
    select
        visits_decoded.load_id,
        visits_decoded.source_file,
        visits_decoded.file_md5,
        visits_decoded.line_number,
        visits_decoded.patient_id,
        visits_decoded.visit_ordinal,
        visits_decoded.visit,
        visits_decoded.visit_id,
        {{ safe_date('visits_decoded.visit_date_text') }} as visit_date,
        {{ safe_date('visits_decoded.discharge_date_text') }} as discharge_date,
        visits_decoded.visit_type_raw,
        visit_type_map.visit_type,
        visits_decoded.provider_id
    from visits_decoded
    left join visit_type_map
        on lower(btrim(visits_decoded.visit_type_raw)) = visit_type_map.visit_type_raw
),

visits_checked as (
    select
        *,
        case
            when visit_id is null then 'missing_visit_id'
            when
                row_number() over (
                    partition by visit_id
                    order by patient_id, visit_ordinal
                ) > 1
                then 'duplicate_visit_id'
            when visit_date is null then 'invalid_visit_date'
            when visit_type is null then 'unknown_visit_type'
            when provider_id is null then 'missing_provider_id'
            when discharge_date < visit_date then 'discharge_before_visit'
        end as reject_rule
    from visits_parsed
),

visits_final as (
    select
        visit_id,
        patient_id,
        visit_ordinal,
        visit_date,
        discharge_date,
        visit_type_raw,
        visit_type,
        provider_id,
        source_file,
        file_md5,
        line_number,
        load_id,
        reject_rule,
        -- the visit object, for the diagnoses, medication orders and notes models
        visit
    from visits_checked
)

select * from visits_final
