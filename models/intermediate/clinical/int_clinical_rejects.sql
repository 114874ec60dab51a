with

documents as (
    select * from {{ ref('stg_ehr__documents') }}
),

visits as (
    select * from {{ ref('stg_ehr__visits') }}
),

diagnoses as (
    select * from {{ ref('stg_ehr__diagnoses') }}
),

medication_orders as (
    select * from {{ ref('stg_ehr__medication_orders') }}
),

provider_notes as (
    select * from {{ ref('stg_ehr__provider_notes') }}
),

claim_versions as (
    select * from {{ ref('stg_claims__claim_versions') }}
),

prescription_fills as (
    select * from {{ ref('stg_fills__prescription_fills') }}
),

-- `source` is a keyword, but it is the column name the data-quality marts use (noqa: RF04)
rejects_unioned as (
    select
        'ehr_documents' as source,  -- noqa: RF04
        'document' as record_type,
        patient_id as record_id,
        '$' as record_path,
        reject_rule,
        source_file,
        file_md5,
        line_number,
        load_id
    from documents
    where reject_rule is not null
    union all
    select
        'ehr_documents' as source,  -- noqa: RF04
        'visit' as record_type,
        visit_id as record_id,
        format('$.visits[%s]', visit_ordinal) as record_path,
        reject_rule,
        source_file,
        file_md5,
        line_number,
        load_id
    from visits
    where reject_rule is not null
    union all
    select
        'ehr_documents' as source,  -- noqa: RF04
        'diagnosis' as record_type,
        visit_id as record_id,
        format('$.visits[%s].diagnoses[%s]', visit_ordinal, diagnosis_number) as record_path,
        reject_rule,
        source_file,
        file_md5,
        line_number,
        load_id
    from diagnoses
    where reject_rule is not null
    union all
    select
        'ehr_documents' as source,  -- noqa: RF04
        'medication_order' as record_type,
        visit_id as record_id,
        format('$.visits[%s].treatments[%s]', visit_ordinal, order_number) as record_path,
        reject_rule,
        source_file,
        file_md5,
        line_number,
        load_id
    from medication_orders
    where reject_rule is not null
    union all
    select
        'ehr_documents' as source,  -- noqa: RF04
        'provider_note' as record_type,
        visit_id as record_id,
        format('$.visits[%s].provider_notes[%s]', visit_ordinal, note_number) as record_path,
        reject_rule,
        source_file,
        file_md5,
        line_number,
        load_id
    from provider_notes
    where reject_rule is not null
    union all
    select
        'claims' as source,  -- noqa: RF04
        'claim_version' as record_type,
        claim_id as record_id,
        '$' as record_path,
        reject_rule,
        source_file,
        file_md5,
        line_number,
        load_id
    from claim_versions
    where reject_rule is not null
    union all
    select
        'prescription_fills' as source,  -- noqa: RF04
        'fill' as record_type,
        rx_id as record_id,
        '$' as record_path,
        reject_rule,
        source_file,
        file_md5,
        line_number,
        load_id
    from prescription_fills
    where reject_rule is not null
)

select * from rejects_unioned
