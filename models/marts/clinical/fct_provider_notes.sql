{#- The note text may name the patient or quote a phone number or SSN: this table lives in the
    restricted schema, and BI reads it only through the masked view (note_text dropped). -#}
{{ config(schema='restricted') }}

with

provider_notes as (
    select * from {{ ref('stg_ehr__provider_notes') }}
),

visits as (
    select * from {{ ref('stg_ehr__visits') }}
),

accepted_visits as (
    select visit_id
    from visits
    where reject_rule is null
),

accepted_provider_notes as (
    select
        provider_notes.note_id,
        provider_notes.visit_id,
        provider_notes.patient_id,
        provider_notes.author_provider_id,
        provider_notes.written_at,
        provider_notes.note_text
    from provider_notes
    inner join accepted_visits
        on provider_notes.visit_id = accepted_visits.visit_id
    where provider_notes.reject_rule is null
)

select * from accepted_provider_notes
